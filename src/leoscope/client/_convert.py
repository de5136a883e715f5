"""SDK-side conversions that `leoscope.api.convert` (shared with the server) does not cover."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from google.protobuf import json_format

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import ConflictInfo, InvalidInput
from leoscope.core.model import GlobalConfig, JobType, Node, Role, User
from leoscope.core.timeutil import NEVER_ACTIVE, parse_time, to_epoch

from ._errors import ServerError
from ._results import CalendarEvent, FreeSlot


def token_from_message(message: str) -> str:
    """The token in the reference's '... registered access_token=<token>' message."""
    _, sep, token = message.partition("access_token=")
    if not sep or not token.strip():
        raise ServerError("the orchestrator's answer carried no access token")
    return token.strip()


def node_from_pb(msg: pb._node) -> Node:
    """A node; the reference's 'never seen' placeholder (2020-01-01) becomes None."""
    node = convert.node_from_pb(msg)
    return replace(node, last_active=None) if node.last_active == NEVER_ACTIVE else node


def user_from_whoami(msg: pb.message_whoami_response) -> User:
    return User(id=msg.userid, name=msg.name, role=Role(msg.role), team=msg.team)


def conflicts_of(response: Any) -> list[ConflictInfo]:
    """The structured `conflicts` of a schedule/modify answer (LEOScope extension)."""
    return [
        ConflictInfo(
            jobid=c.jobid,
            start=to_epoch(parse_time(c.start, "conflicts.start")),
            end=to_epoch(parse_time(c.end, "conflicts.end")),
            nodeid=c.nodeid,
        )
        for c in getattr(response, "conflicts", ())
    ]


def event_from_pb(msg: pb.run_event) -> CalendarEvent:
    return CalendarEvent(
        jobid=msg.title,
        nodeid=msg.nodeid,
        start=parse_time(msg.start, "events.start"),
        end=parse_time(msg.end, "events.end"),
        type=JobType.CRON if msg.type == "cron" else JobType.ATQ,
        length_secs=msg.length,
        overhead=msg.overhead,
        schedule=msg.schedule,
        trigger=msg.trigger or None,
        server=msg.server or None,
    )


def slot_from_pb(msg: pb.free_slot) -> FreeSlot:
    if not msg.found:
        return FreeSlot(msg.nodeid, None, None)
    return FreeSlot(
        msg.nodeid, parse_time(msg.start, "slots.start"), parse_time(msg.end, "slots.end")
    )


# ---------------------------------------------------------------------------- global config


def load_global_config(document: Mapping[str, Any]) -> GlobalConfig:
    """A GlobalConfig from the reference's global_config.json shape, strictly: an unknown or
    mistyped key raises InvalidInput (field `config`) rather than being dropped silently."""
    try:
        msg = json_format.ParseDict(dict(document), pb.settings())
    except json_format.ParseError as exc:
        raise InvalidInput("config", str(exc).replace('"unary.', '"')) from None
    return convert.global_config_from_document(convert.settings_to_document(msg))


def dump_global_config(config: GlobalConfig) -> dict[str, Any]:
    """The global_config.json shape of `config` (what `load_global_config` reads back)."""
    document: dict[str, Any] = {}
    datastore: dict[str, Any] = {}
    if config.blob is not None:
        datastore["blob"] = {
            "connectionString": config.blob.connection_string,
            "container": config.blob.container,
            "artifactPath": config.blob.artifact_path,
        }
    if config.store is not None:
        s = config.store
        store: dict[str, Any] = {"url": s.url}
        optional = {
            "s3Endpoint": s.s3_endpoint,
            "s3AccessKey": s.s3_access_key,
            "s3SecretKey": s.s3_secret_key,
            "s3Region": s.s3_region,
            "urlTtlSecs": s.url_ttl_secs,
            "retentionDays": s.retention_days,
        }
        store.update({k: v for k, v in optional.items() if v is not None})
        datastore["store"] = store
    if datastore:
        document["datastore"] = datastore
    if config.weather_apikey is not None:
        document["weather"] = {"apikey": config.weather_apikey}
    return document


def global_config_to_pb(config: GlobalConfig) -> pb.settings:
    return convert.document_to_settings(dump_global_config(config))


def global_config_from_pb(msg: pb.settings) -> GlobalConfig:
    return convert.global_config_from_document(convert.settings_to_document(msg))
