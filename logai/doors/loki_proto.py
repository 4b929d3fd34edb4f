"""Loki's push message (`logproto.PushRequest`) as protobuf classes, built from a descriptor at import.

The fields and numbers are those of Loki's published `pkg/push/push.proto`: PushRequest{streams=1},
StreamAdapter{labels=1, entries=2, hash=3}, EntryAdapter{timestamp=1 (google.protobuf.Timestamp), line=2,
structuredMetadata=3}, LabelPairAdapter{name=1, value=2}. protobuf does all the wire decoding.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _message(file: descriptor_pb2.FileDescriptorProto, name: str,
             fields: list[tuple[str, int, int, int, str | None]]) -> None:
    message = file.message_type.add(name=name)
    for field_name, number, kind, label, type_name in fields:
        entry = message.field.add(name=field_name, number=number, type=kind, label=label, json_name=field_name)
        if type_name:
            entry.type_name = type_name


def _build() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    file = descriptor_pb2.FileDescriptorProto(name="logai/loki_push.proto", package="logproto", syntax="proto3",
                                              dependency=["google/protobuf/timestamp.proto"])
    one, many = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    _message(file, "LabelPairAdapter", [("name", 1, _F.TYPE_STRING, one, None),
                                        ("value", 2, _F.TYPE_STRING, one, None)])
    _message(file, "EntryAdapter", [("timestamp", 1, _F.TYPE_MESSAGE, one, ".google.protobuf.Timestamp"),
                                    ("line", 2, _F.TYPE_STRING, one, None),
                                    ("structuredMetadata", 3, _F.TYPE_MESSAGE, many, ".logproto.LabelPairAdapter")])
    _message(file, "StreamAdapter", [("labels", 1, _F.TYPE_STRING, one, None),
                                     ("entries", 2, _F.TYPE_MESSAGE, many, ".logproto.EntryAdapter"),
                                     ("hash", 3, _F.TYPE_UINT64, one, None)])
    _message(file, "PushRequest", [("streams", 1, _F.TYPE_MESSAGE, many, ".logproto.StreamAdapter"),
                                   ("format", 2, _F.TYPE_STRING, one, None)])
    pool.Add(file)
    return pool


_POOL = _build()
PushRequest = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("logproto.PushRequest"))
EntryAdapter = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("logproto.EntryAdapter"))
