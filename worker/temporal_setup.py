"""Registers mentorflow's search attributes on a Temporal namespace (`mentorflow temporal setup`)."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client

from infra.settings import SettingsError
from workflows.search_attributes import ALL


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the journeys' search attributes that are missing; return the names added."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    existing = dict(listed.custom_attributes)
    missing: dict[str, IndexedValueType.ValueType] = {}
    for key in ALL:
        wanted = IndexedValueType.ValueType(key.indexed_value_type.value)
        if key.name not in existing:
            missing[key.name] = wanted
        elif existing[key.name] != wanted:
            raise SettingsError(
                f"search attribute {key.name} exists on namespace {namespace!r} with type "
                f"{IndexedValueType.Name(existing[key.name])}, expected {IndexedValueType.Name(wanted)}"
            )
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
