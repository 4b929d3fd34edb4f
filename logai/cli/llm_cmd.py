"""`logai llm`: the LLM engine from the command line — serve it over an OpenAI-compatible API, or ask it."""

from __future__ import annotations

import json

import click


@click.group()
def llm() -> None:
    """The LLM engine (in-process transformers, or an OpenAI-compatible server per `llm.backend`)."""


def _config(app, model: str | None, speculation: str | None):
    updates = {k: v for k, v in {"model": model, "speculation": speculation}.items() if v is not None}
    return app.settings.llm.model_copy(update=updates)


@llm.command()
@click.option("--model", default=None, help="HF model directory or .gguf file (default: packaged SmolLM2).")
@click.option("--speculation", type=click.Choice(["none", "suffix", "recycling"]), default=None,
              help="Draft-free speculative decoding (default from config: suffix).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8001, show_default=True)
@click.pass_obj
def serve(app, model: str | None, speculation: str | None, host: str, port: int) -> None:
    """Serve the in-process engine as /v1/chat/completions, /v1/completions and /v1/models."""
    import uvicorn

    from logai.llm.local import LocalBackend
    from logai.llm.model_files import ModelNotFoundError
    from logai.llm.server import create_llm_app

    config = _config(app, model, speculation)
    try:
        backend = LocalBackend(config.model, device=config.device, dtype=config.dtype,
                               speculation=config.speculation, cache_dir=config.cache_dir)
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"serving {backend.model_name} ({backend.model.dtype}, {backend.device}, speculation "
               f"{config.speculation}) on http://{host}:{port}/v1", err=True)
    uvicorn.run(create_llm_app(backend, backend.model_name), host=host, port=port, log_level="warning")


@llm.command()
@click.argument("prompt")
@click.option("--model", default=None, help="HF model directory or .gguf file (local backend).")
@click.option("--speculation", type=click.Choice(["none", "suffix", "recycling"]), default=None)
@click.option("--max-tokens", type=int, default=128, show_default=True)
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--json-schema", "schema", default=None, help="Constrain the answer to this JSON schema (inline).")
@click.option("--choice", "choices", multiple=True, help="Constrain the answer to one of these (repeatable).")
@click.option("--stats", is_flag=True, help="Print tokens, forward passes and draft acceptance to stderr.")
@click.pass_obj
def generate(app, prompt: str, model: str | None, speculation: str | None, max_tokens: int, temperature: float,
             schema: str | None, choices: tuple[str, ...], stats: bool) -> None:
    """Answer PROMPT (as a user chat message) with the configured backend."""
    from logai.llm.factory import build_backend
    from logai.llm.types import Constraint, LLMError

    constraint = None
    if schema and choices:
        raise click.UsageError("give --json-schema or --choice, not both")
    if schema:
        try:
            constraint = Constraint.json_schema(json.loads(schema))
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--json-schema") from exc
    elif choices:
        constraint = Constraint.choice(list(choices))
    backend = build_backend(_config(app, model, speculation))
    try:
        result = backend.chat([{"role": "user", "content": prompt}], constraint=constraint, max_tokens=max_tokens,
                              temperature=temperature)
    except (LLMError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        backend.close()
    click.echo(result.text)
    if stats:
        click.echo(f"{result.completion_tokens} tokens, {result.forward_passes} forward passes, "
                   f"{result.accepted_tokens}/{result.drafted_tokens} draft tokens accepted, "
                   f"{result.timings.total_s:.2f} s", err=True)
