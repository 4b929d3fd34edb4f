"""The analysis tasks the router knows: what the LLM is asked, and the default label set of each."""

from __future__ import annotations

from dataclasses import dataclass

# labels that mean nothing is wrong, and labels that mean something is: what a summary, an incident and a
# correction read a verdict's label by, whichever router gave it
NORMAL_LABELS = frozenset({"normal", "benign", "ok"})
ABNORMAL_LABELS = frozenset({"abnormal", "anomalous", "anomaly"})


@dataclass(frozen=True)
class Task:
    name: str
    instruction: str  # what the LLM is asked, before the cases and the event


TASKS: dict[str, Task] = {
    "anomaly": Task("anomaly", "Decide whether this log line reports a problem ('abnormal') or routine "
                               "operation ('normal')."),
    "diagnosis": Task("diagnosis", "Identify which type of fault this log line belongs to."),
    "level": Task("level", "Decide which log level this log line should have."),
}


def task(name: str) -> Task:
    """A known task, or a generic one for a custom task name."""
    return TASKS.get(name) or Task(name, f"Classify this log line for the task '{name}'.")
