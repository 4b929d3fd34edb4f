"""Realistic sample files of the log formats people run, for the format-detection benchmark.

Each generator writes what the named software writes with its default (or most common) layout: the
header as that software formats it, and messages drawn from a small vocabulary of services, users, hosts,
paths and numbers, so no two files are alike. Written from the formats' documentation, not from logai's
format definitions. `EXPECTED` says which logai format each sample should be detected as.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

SERVICES = ["checkout", "billing", "inventory", "auth", "search", "gateway", "mailer", "scheduler"]
USERS = ["alice", "bob", "carol", "dave", "eve", "mallory", "trent", "peggy"]
HOSTS = ["web-1", "web-2", "db-1", "cache-3", "worker-7", "edge-12"]
PATHS = ["/api/v1/orders", "/health", "/login", "/api/v1/items/42", "/static/app.js", "/metrics"]
CLASSES = ["com.example.shop.OrderService", "com.example.shop.PaymentClient", "org.hibernate.SQL",
           "io.netty.channel.ChannelPipeline", "com.example.auth.TokenFilter", "c.e.s.web.CheckoutController"]
PY_LOGGERS = ["app", "app.db", "app.api.views", "celery.worker", "urllib3.connectionpool", "root"]
GO_CALLERS = ["server/main.go:42", "internal/db/pool.go:118", "cmd/api/handler.go:77", "pkg/cache/lru.go:31"]


def _messages(rng: random.Random) -> str:
    user, svc, path = rng.choice(USERS), rng.choice(SERVICES), rng.choice(PATHS)
    n, ms = rng.randint(1, 9999), rng.randint(1, 5000)
    return rng.choice([
        f"user {user} logged in from 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        f"GET {path} completed in {ms} ms status={rng.choice([200, 201, 404, 500])}",
        f"order {n} created for {user} total={rng.randint(1, 900)}.{rng.randint(10, 99)} EUR",
        f"connection to {svc}:{rng.randint(1024, 65000)} refused, retrying in {rng.randint(1, 30)} s",
        f"cache miss for key {svc}:{n}",
        f"processed batch of {n} records in {ms} ms",
        f"Slow query took {ms} ms: SELECT * FROM {svc} WHERE id = {n}",
        f"scheduled job {svc}-sync finished with {rng.randint(0, 5)} errors",
    ])


def _levels(rng: random.Random, names: list[str]) -> str:
    return rng.choices(names, weights=[1, 6, 2, 1][: len(names)] + [1] * max(0, len(names) - 4))[0]


def _times(rng: random.Random, n: int) -> list[datetime]:
    start = datetime(2024, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), tzinfo=UTC)
    out, t = [], start
    for _ in range(n):
        t += timedelta(milliseconds=rng.randint(1, 4000))
        out.append(t)
    return out


def _ms(t: datetime, sep: str = ".") -> str:
    return f"{t:%H:%M:%S}{sep}{t.microsecond // 1000:03d}"


def log4j(rng: random.Random, t: datetime) -> str:
    thread = rng.choice(["main", "http-nio-8080-exec-3", "pool-2-thread-1", "scheduling-1"])
    return f"{t:%Y-%m-%d} {_ms(t, ',')} {_levels(rng, ['DEBUG', 'INFO', 'WARN', 'ERROR']):<5} [{thread}] " \
           f"{rng.choice(CLASSES)} - {_messages(rng)}"


def logback(rng: random.Random, t: datetime) -> str:
    thread = rng.choice(["main", "http-nio-8080-exec-3", "ForkJoinPool.commonPool-worker-1"])
    return f"{_ms(t)} [{thread}] {_levels(rng, ['DEBUG', 'INFO', 'WARN', 'ERROR']):<5} {rng.choice(CLASSES)} - " \
           f"{_messages(rng)}"


def spring_boot(rng: random.Random, t: datetime) -> str:
    thread = rng.choice(["main", "nio-8080-exec-1", "task-2"])
    level = _levels(rng, ["DEBUG", "INFO", "WARN", "ERROR"])
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}+00:00 {level:>5} " \
           f"{rng.randint(1000, 99999)} --- [{thread:>15}] {rng.choice(CLASSES)[:40]:<40} : {_messages(rng)}"


def python_logging(rng: random.Random, t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} - {rng.choice(PY_LOGGERS)} - " \
           f"{_levels(rng, ['DEBUG', 'INFO', 'WARNING', 'ERROR'])} - {_messages(rng)}"


def python_basic(rng: random.Random, t: datetime) -> str:
    return f"{_levels(rng, ['DEBUG', 'INFO', 'WARNING', 'ERROR'])}:{rng.choice(PY_LOGGERS)}:{_messages(rng)}"


def go_zap(rng: random.Random, t: datetime) -> str:
    extra = json.dumps({"service": rng.choice(SERVICES), "attempt": rng.randint(1, 5)})
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z\t{_levels(rng, ['DEBUG', 'INFO', 'WARN', 'ERROR'])}" \
           f"\t{rng.choice(GO_CALLERS)}\t{_messages(rng)}\t{extra}"


def go_zap_json(rng: random.Random, t: datetime) -> str:
    return json.dumps({"level": _levels(rng, ["debug", "info", "warn", "error"]), "ts": t.timestamp(),
                       "caller": rng.choice(GO_CALLERS), "msg": _messages(rng), "service": rng.choice(SERVICES)})


def logrus_text(rng: random.Random, t: datetime) -> str:
    return f'time="{t:%Y-%m-%dT%H:%M:%SZ}" level={_levels(rng, ["debug", "info", "warning", "error"])} ' \
           f'msg="{_messages(rng)}" service={rng.choice(SERVICES)}'


def logrus_json(rng: random.Random, t: datetime) -> str:
    return json.dumps({"level": _levels(rng, ["debug", "info", "warning", "error"]), "msg": _messages(rng),
                       "time": f"{t:%Y-%m-%dT%H:%M:%SZ}", "user": rng.choice(USERS)})


def go_log(rng: random.Random, t: datetime) -> str:
    return f"{t:%Y/%m/%d %H:%M:%S} {_messages(rng)}"


def rails(rng: random.Random, t: datetime) -> str:
    level = _levels(rng, ["DEBUG", "INFO", "WARN", "ERROR"])
    return f"{level[0]}, [{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d} #{rng.randint(1000, 99999)}] {level:>5} -- : " \
           f"[{rng.getrandbits(32):08x}] {_messages(rng)}"


def journalctl(rng: random.Random, t: datetime) -> str:
    app = rng.choice(["sshd", "systemd", "kernel", "cron", "dockerd", "nginx"])
    pid = "" if app == "kernel" else f"[{rng.randint(1, 65000)}]"
    return f"{t:%Y-%m-%dT%H:%M:%S}+0000 {rng.choice(HOSTS)} {app}{pid}: {_messages(rng)}"


def journald_json(rng: random.Random, t: datetime) -> str:
    return json.dumps({"__REALTIME_TIMESTAMP": str(int(t.timestamp() * 1e6)), "PRIORITY": str(rng.randint(2, 7)),
                       "_HOSTNAME": rng.choice(HOSTS), "SYSLOG_IDENTIFIER": rng.choice(["sshd", "cron"]),
                       "_PID": str(rng.randint(1, 65000)), "MESSAGE": _messages(rng)})


def journal_export(rng: random.Random, t: datetime) -> str:
    """An entry of `journalctl -o export` (text fields only), with the empty line that ends it."""
    app = rng.choice(["sshd", "cron", "dockerd", "kubelet"])
    fields = {"__CURSOR": f"s={rng.getrandbits(64):016x};i={rng.randint(1, 99999):x}",
              "__REALTIME_TIMESTAMP": str(int(t.timestamp() * 1e6)), "_BOOT_ID": f"{rng.getrandbits(128):032x}",
              "PRIORITY": str(rng.randint(2, 7)), "_HOSTNAME": rng.choice(HOSTS), "SYSLOG_IDENTIFIER": app,
              "_PID": str(rng.randint(1, 65000)), "_SYSTEMD_UNIT": f"{app}.service", "MESSAGE": _messages(rng)}
    return "\n".join(f"{name}={value}" for name, value in fields.items()) + "\n"


def docker_json(rng: random.Random, t: datetime) -> str:
    return json.dumps({"log": _messages(rng) + "\n", "stream": rng.choice(["stdout", "stderr"]),
                       "time": f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}123Z"})


def postgresql(rng: random.Random, t: datetime) -> str:
    level = rng.choices(["LOG", "ERROR", "WARNING", "FATAL", "STATEMENT"], weights=[8, 2, 2, 1, 1])[0]
    return f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d} UTC [{rng.randint(100, 99999)}] {level}:  " \
           f"{_messages(rng)}"


def redis(rng: random.Random, t: datetime) -> str:
    return f"{rng.randint(1, 99999)}:{rng.choice('MSC')} {t:%d %b %Y} {_ms(t)} {rng.choice('.-*#')} {_messages(rng)}"


def mysql_error(rng: random.Random, t: datetime) -> str:
    level = rng.choice(["System", "Warning", "Error", "Note"])
    code = f"MY-0{rng.randint(10000, 13999)}"
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}Z {rng.randint(0, 99)} [{level}] [{code}] " \
           f"[{rng.choice(['Server', 'InnoDB', 'Repl'])}] {_messages(rng)}"


def syslog_3164(rng: random.Random, t: datetime) -> str:
    return f"<{rng.randint(0, 191)}>{t:%b} {t.day:2d} {t:%H:%M:%S} {rng.choice(HOSTS)} " \
           f"{rng.choice(['sshd', 'cron', 'su'])}[{rng.randint(1, 65000)}]: {_messages(rng)}"


def syslog_5424(rng: random.Random, t: datetime) -> str:
    return f"<{rng.randint(0, 191)}>1 {t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z {rng.choice(HOSTS)} " \
           f"{rng.choice(SERVICES)} {rng.randint(1, 65000)} ID{rng.randint(1, 99)} - {_messages(rng)}"


def nginx_access(rng: random.Random, t: datetime) -> str:
    return f'10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] ' \
           f'"GET {rng.choice(PATHS)} HTTP/1.1" {rng.choice([200, 304, 404])} {rng.randint(0, 99999)} "-" ' \
           f'"Mozilla/5.0 (X11; Linux x86_64)"'


def k8s_cri(rng: random.Random, t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}123Z {rng.choice(['stdout', 'stderr'])} F {_messages(rng)}"


GENERATORS: dict[str, Callable[[random.Random, datetime], str]] = {
    "log4j": log4j, "logback": logback, "spring-boot": spring_boot, "python-logging": python_logging,
    "python-basic": python_basic, "go-zap": go_zap, "go-zap-json": go_zap_json, "logrus-text": logrus_text,
    "logrus-json": logrus_json, "go-log": go_log, "rails": rails, "journalctl": journalctl,
    "journald-json": journald_json, "journal-export": journal_export, "docker-json": docker_json,
    "postgresql": postgresql, "redis": redis, "mysql-error": mysql_error, "syslog-3164": syslog_3164,
    "syslog-5424": syslog_5424, "nginx-access": nginx_access, "k8s-cri": k8s_cri,
}
# the logai format each sample is read with (several JSON and logfmt dialects share one reader)
EXPECTED = {name: name for name in GENERATORS} | {
    "go-zap-json": "json", "logrus-text": "logfmt", "logrus-json": "json", "docker-json": "json",
    "syslog-3164": "syslog-rfc3164", "syslog-5424": "syslog-rfc5424"}
# formats that read the same header as the expected one, field for field: nginx's default access log is
# Apache's combined layout, and three Loghub systems are plain BSD syslog
ALSO_RIGHT = {"nginx-access": {"apache-access"}, "loghub:Linux": {"syslog-rfc3164"},
              "loghub:Mac": {"syslog-rfc3164"}, "loghub:OpenSSH": {"syslog-rfc3164"}}




# -- what follows an error record on its own lines, as each runtime prints it -----------------------------
def java_trace(rng: random.Random) -> list[str]:
    cls = rng.choice(CLASSES)
    frames = [f"\tat {rng.choice(CLASSES)}.{rng.choice(['handle', 'load', 'call', 'run'])}"
              f"({rng.choice(CLASSES).rsplit('.', 1)[-1]}.java:{rng.randint(10, 400)})"
              for _ in range(rng.randint(2, 25))]
    cause = [f"Caused by: java.io.IOException: {rng.choice(['connection reset', 'broken pipe'])}",
             f"\t... {rng.randint(1, 40)} common frames omitted"] if rng.random() < 0.5 else []
    return [f"{rng.choice(['java.lang.IllegalStateException', 'java.net.SocketTimeoutException'])}: "
            f"{cls} failed", *frames, *cause]


def python_traceback(rng: random.Random) -> list[str]:
    out = ["Traceback (most recent call last):"]
    for _ in range(rng.randint(1, 8)):
        module = rng.choice(PY_LOGGERS).replace(".", "/")
        out += [f'  File "/srv/{module}.py", line {rng.randint(1, 900)}, in {rng.choice(["get", "load", "run"])}',
                f"    {rng.choice(['return self.repo.load(key)', 'raise KeyError(key)', 'conn.execute(sql)'])}"]
    return [*out, f"{rng.choice(['KeyError', 'ValueError', 'TimeoutError'])}: {rng.randint(1, 9999)}"]


def go_stack(rng: random.Random) -> list[str]:
    out = []
    for _ in range(rng.randint(2, 10)):
        out += [f"main.{rng.choice(['handle', 'serve', 'run'])}", f"\t/app/{rng.choice(GO_CALLERS)}"]
    return out


def ruby_backtrace(rng: random.Random) -> list[str]:
    return [f"app/{rng.choice(['controllers', 'models'])}/{rng.choice(SERVICES)}.rb:{rng.randint(1, 300)}:in "
            f"`{rng.choice(['create', 'show', 'save!'])}'" for _ in range(rng.randint(2, 12))]


def sql_continuation(rng: random.Random) -> list[str]:
    return [f"\t  FROM {rng.choice(SERVICES)}", f"\t WHERE id = {rng.randint(1, 9999)}"]


# formats whose records continue on following lines: the sample `<name>+trace` gives error records a trace
CONTINUATIONS: dict[str, Callable[[random.Random], list[str]]] = {
    "log4j": java_trace, "logback": java_trace, "spring-boot": java_trace, "python-logging": python_traceback,
    "python-basic": python_traceback, "go-zap": go_stack, "rails": ruby_backtrace, "postgresql": sql_continuation}
MULTILINE = {f"{name}+trace": name for name in CONTINUATIONS}
EXPECTED |= {sample_name: EXPECTED[name] for sample_name, name in MULTILINE.items()}


def records(name: str, seed: int, count: int = 200) -> list[str]:
    """`count` records of sample `name`; a `+trace` sample's error records span lines (joined by newlines)."""
    rng = random.Random(f"{name}:{seed}")
    base = MULTILINE.get(name, name)
    out = []
    for t in _times(rng, count):
        record = GENERATORS[base](rng, t)
        if name in MULTILINE and any(level in record for level in ("ERROR", "E, [")) and rng.random() < 0.7:
            record = "\n".join([record, *CONTINUATIONS[base](rng)])
        out.append(record)
    return out


def sample(name: str, seed: int, lines: int = 200) -> list[str]:
    """A sample file's lines: `lines` records, more lines than that where records span lines."""
    return "\n".join(records(name, seed, lines)).split("\n")
