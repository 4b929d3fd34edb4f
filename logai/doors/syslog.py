"""Syslog listener: TCP (RFC 6587 octet-counting and LF framing), UDP (RFC 5426) and TLS (RFC 5425).

Messages are split by the shipped `syslog-rfc5424` and `syslog-rfc3164` formats: app-name (or host) ->
source, severity -> level, structured data -> fields `<sd-id>.<param>`. A frame that neither format reads
is kept whole with the `no_header` flag; a frame over `max_message_bytes` is dead-lettered.

TCP has backpressure: a connection's next bytes are read only once its previous frames are stored, so a
slow store slows the sender instead of filling memory. UDP has none to give: datagrams wait in a bounded
queue, and those that find it full are dropped and counted (`logai_syslog_udp_dropped_total`).
Keys: an RFC 5424 message with a sub-second timestamp names itself (host, app, process, time to the
microsecond), so its key is a hash of its bytes and a relay's re-send after a broken connection stores
nothing twice. Other frames (RFC 3164 has whole seconds, where real repeats are common) are keyed by
connection and position, so nothing is merged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from logai import metrics
from logai.config import SyslogConfig
from logai.doors.batch import DoorBatch, Rejected
from logai.doors.keys import digest, ingest_key
from logai.events import FLAG_NO_HEADER, Record
from logai.parsing.formats import FormatRegistry
from logai.parsing.headers import header_parser_for
from logai.parsing.lines import decode_line
from logai.service import IngestService

log = logging.getLogger(__name__)
FORMAT = "syslog-rfc5424"  # miner settings for syslog messages (the two syslog formats share them)
_RFC5424 = re.compile(r"^<\d{1,3}>\d{1,2} ")
_SD_ELEMENT = re.compile(r'\[([^\s\]=]+)((?:\s+[^\s=\]"]+="(?:[^"\\]|\\.)*")*)\s*\]')
_OCTET_PREFIX = re.compile(rb"\d{1,10} ")
_SD_PARAM = re.compile(r'([^\s=\]"]+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Frames:
    messages: list[bytes] = field(default_factory=list)
    oversized: list[bytes] = field(default_factory=list)  # the first max_bytes of each frame over the limit
    truncated: list[bytes] = field(default_factory=list)  # octet-counted frames the peer closed in the middle of


class FrameSplitter:
    """RFC 6587 framing of one TCP stream: a frame starting with a digit is octet-counted (`LEN SP MSG`),
    anything else runs to the next LF. Bytes of an unfinished frame wait for the next read."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._skip = 0  # bytes still to discard of an oversized octet-counted frame

    def feed(self, data: bytes) -> Frames:
        out = Frames()
        self._buffer += data
        while self._buffer:
            if self._skip:
                dropped = min(self._skip, len(self._buffer))
                del self._buffer[:dropped]
                self._skip -= dropped
                continue
            if self._buffer[:1].isdigit():
                if not self._octet_counted(out):
                    break
                continue
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.max_bytes:  # a line without end: keep its head, drop the rest
                    out.oversized.append(bytes(self._buffer[: self.max_bytes]))
                    self._buffer.clear()
                break
            frame = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if len(frame) > self.max_bytes:
                out.oversized.append(frame[: self.max_bytes])
            elif frame.strip():
                out.messages.append(frame)
        return out

    def _octet_counted(self, out: Frames) -> bool:
        """Take one `LEN SP MSG` frame if complete; False when more bytes are needed. A digit run that is not
        a length (no space after at most 10 digits) is read as the start of an LF-framed line instead."""
        space = self._buffer.find(b" ", 0, 11)
        if space < 0:
            if len(self._buffer) <= 10 and self._buffer.isdigit():
                return False  # the length itself may be incomplete
            return self._lf_fallback(out)
        if not bytes(self._buffer[:space]).isdigit():
            return self._lf_fallback(out)
        length = int(self._buffer[:space])
        if length > self.max_bytes:
            out.oversized.append(bytes(self._buffer[space + 1 : space + 1 + self.max_bytes]))
            del self._buffer[: space + 1]
            self._skip = length
            return True
        if len(self._buffer) < space + 1 + length:
            return False
        out.messages.append(bytes(self._buffer[space + 1 : space + 1 + length]).rstrip(b"\r\n"))
        del self._buffer[: space + 1 + length]
        return True

    def _lf_fallback(self, out: Frames) -> bool:
        """Take one LF-framed line; False when its end has not arrived yet."""
        end = self._buffer.find(b"\n")
        if end < 0 and len(self._buffer) <= self.max_bytes:
            return False
        frame = bytes(self._buffer if end < 0 else self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: len(self._buffer) if end < 0 else end + 1]
        (out.oversized if len(frame) > self.max_bytes else out.messages).append(frame[: self.max_bytes])
        return True

    def close(self) -> Frames:
        """What is left when the peer closes: an unterminated last line still counts."""
        out = Frames()
        rest = bytes(self._buffer).strip()
        self._buffer.clear()
        if rest and not self._skip:
            counted = _OCTET_PREFIX.match(rest)
            (out.truncated if counted else out.messages).append(rest[counted.end():] if counted else rest)
        return out


class SyslogMapper:
    """One syslog message (bytes) to a `Record`, with the shipped RFC 5424 / RFC 3164 header parsers."""

    def __init__(self, registry: FormatRegistry, source_by: str = "app", default_source: str = "syslog"):
        self.rfc5424 = header_parser_for(registry.get("syslog-rfc5424"))
        self.rfc3164 = header_parser_for(registry.get("syslog-rfc3164"))
        self.source_by = source_by
        self.default_source = default_source

    def record(self, message: bytes, key: str, peer: str) -> Record:
        text, flags = decode_line(message)
        parser = self.rfc5424 if _RFC5424.match(text) else self.rfc3164
        header = parser.split(text)
        if header is None:
            return Record(source=self.default_source, content=text, raw=text, key=key, fields={"peer": peer},
                          flags=[*flags, FLAG_NO_HEADER])
        fields, content, timestamp, level = header
        fields = {k: v for k, v in fields.items() if v not in ("-", "")}
        for element, params in _SD_ELEMENT.findall(fields.get("SD", "")):
            for name, value in _SD_PARAM.findall(params):
                fields[f"{element}.{name}"] = value.replace('\\"', '"').replace("\\]", "]").replace("\\\\", "\\")
        fields["peer"] = peer
        if parser is self.rfc5424 and "." in fields.get("Time", ""):  # time first: keys arrive in order
            key = ingest_key("syslog", fields["Time"][:40], digest(message)[:32])
        first, second = ("App", "Host") if self.source_by == "app" else ("Host", "App")
        source = fields.get(first) or fields.get(second) or self.default_source
        return Record(source=source, content=content.removeprefix("\ufeff"), raw=text, key=key,
                      timestamp=timestamp, level=level, fields=fields, flags=flags)


class SyslogServer:
    """The listener, on its own thread and event loop; `start()` returns once the sockets are bound."""

    def __init__(self, service: IngestService, config: SyslogConfig):
        self.service = service
        self.config = config
        self.mapper = SyslogMapper(service.pipeline.registry, config.source, config.default_source)
        self.ports: dict[str, int] = {}  # bound ports by transport (tcp, udp, tls): useful with port 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="syslog", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._closers: list[Callable[[], None]] = []

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> SyslogServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._bind())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            for close in self._closers:
                close()
            self._loop.close()

    async def _bind(self) -> None:
        cfg = self.config
        if cfg.port is not None:
            server = await asyncio.start_server(self._connection, cfg.host, cfg.port)
            self.ports["tcp"] = server.sockets[0].getsockname()[1]
            self._closers.append(server.close)
        if cfg.tls_port is not None:
            if not (cfg.tls_certfile and cfg.tls_keyfile):
                raise ValueError("syslog.tls_port needs syslog.tls_certfile and syslog.tls_keyfile")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cfg.tls_certfile, cfg.tls_keyfile)
            server = await asyncio.start_server(self._connection, cfg.host, cfg.tls_port, ssl=context)
            self.ports["tls"] = server.sockets[0].getsockname()[1]
            self._closers.append(server.close)
        if cfg.udp_port is not None:
            queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue(cfg.udp_queue)
            transport, _ = await self._loop.create_datagram_endpoint(lambda: _Datagrams(queue),
                                                                     (cfg.host, cfg.udp_port))
            self.ports["udp"] = transport.get_extra_info("sockname")[1]
            self._closers.append(transport.close)
            self._loop.create_task(self._drain_udp(queue))
        log.info("syslog listening: %s", ", ".join(f"{k} {cfg.host}:{v}" for k, v in self.ports.items()))

    # -- transports ----------------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        splitter, connection, sequence = FrameSplitter(self.config.max_message_bytes), uuid.uuid4().hex, 0
        try:
            while True:
                data = await reader.read(256 * 1024)
                frames = splitter.feed(data) if data else splitter.close()
                sequence = await self._ingest(frames, f"syslog:{connection}", sequence, peer)
                if not data:
                    break
        except (ConnectionError, ssl.SSLError) as exc:
            log.info("syslog connection from %s ended: %s", peer, exc)
        finally:
            writer.close()

    async def _drain_udp(self, queue: asyncio.Queue[tuple[bytes, str]]) -> None:
        prefix, sequence = f"syslog-udp:{uuid.uuid4().hex}", 0
        while True:
            datagrams = [await queue.get()]
            while not queue.empty() and len(datagrams) < self.config.batch_lines:
                datagrams.append(queue.get_nowait())
            for data, peer in datagrams:  # one message per datagram (RFC 5426)
                frames = Frames()
                message = data.rstrip(b"\r\n\x00")
                (frames.oversized if len(message) > self.config.max_message_bytes else frames.messages).append(
                    message[: self.config.max_message_bytes])
                sequence = await self._ingest(frames, prefix, sequence, peer)

    async def _ingest(self, frames: Frames, prefix: str, sequence: int, peer: str) -> int:
        """Store the frames (in a worker thread: parsing holds the service lock); return the next sequence."""
        items: list[Record | Rejected] = []
        for message in frames.messages:
            items.append(self.mapper.record(message, ingest_key(prefix, sequence), peer))
            sequence += 1
        too_long = f"message over syslog.max_message_bytes ({self.config.max_message_bytes})"
        for reason, messages in ((too_long, frames.oversized),
                                 ("connection closed inside an octet-counted frame", frames.truncated)):
            for message in messages:
                items.append(Rejected(self.config.default_source, message, reason, ingest_key(prefix, sequence)))
                sequence += 1
        if items:
            batch = DoorBatch(len(items), items)
            await self._loop.run_in_executor(None, partial(batch.deliver, self.service, format_name=FORMAT,
                                                           door="syslog"))
        return sequence


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[tuple[bytes, str]]):
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.queue.put_nowait((data, f"{addr[0]}:{addr[1]}"))
        except asyncio.QueueFull:
            metrics.SYSLOG_UDP_DROPPED.inc()
