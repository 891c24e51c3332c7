"""The table store over Azure Table storage (and Azurite), with ``azure-data-tables``.

The SDK is imported inside the functions that need it: importing this module
must stay cheap, because the function app imports it at cold start.

Mapping of the SDK's errors (see ``_translate``):

* 409 EntityAlreadyExists → ``EntityExists``
* 412 (etag mismatch), 404 on an update/conditional delete → ``ConcurrencyConflict``
* 404 TableNotFound → ``StoreError`` (a set-up fault: run ``create_tables``)
* no connection, timeouts, 408, 429 and 503 (throttling), 5xx, 401/403 (refused
  credentials) → ``TransientError``; nothing was applied, so the caller retries later
* any other rejection → ``StoreError`` naming the status and error code

Messages name status codes and the table, never keys or values.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.crosswalk.checked import CheckedTableStore
from shared.crosswalk.keys import prefix_upper_bound
from shared.crosswalk.port import Entity, OlderThan, ScanPage, Value
from shared.errors import (
    ConcurrencyConflict,
    EntityExists,
    IntegrationError,
    StoreError,
    TransientError,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.pipeline import PipelineResponse
    from azure.data.tables import TableClient, TableEntity, TableServiceClient

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_KEYS = ("PartitionKey", "RowKey")


class AzureTableStore(CheckedTableStore):
    """``TableStore`` over one storage account's Table service; safe to share between threads.

    Raises (every method): as ``TableStore``, plus ``StoreError`` for a missing
    table or a request the service rejects, and ``ValueError``/``TypeError`` for keys,
    names or values it would reject (checked before sending, by ``CheckedTableStore``).
    """

    def __init__(
        self,
        endpoint: str,
        credential: TokenCredential | Any,
        *,
        retry_total: int = 3,
        connection_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 20.0,
    ) -> None:
        """``endpoint`` is the Table service URL, e.g. ``https://<account>.table.core.windows.net``.

        ``credential`` is a token credential (managed identity) in Azure, or an
        ``AzureNamedKeyCredential`` for the emulator. The SDK retries ``retry_total``
        times with exponential backoff before an error reaches the caller; the
        timeouts replace the SDK's default of 300 s, which would stall a worker.
        """
        from azure.data.tables import TableServiceClient

        self._service: TableServiceClient = TableServiceClient(
            endpoint=endpoint,
            credential=credential,
            retry_total=retry_total,
            connection_timeout=connection_timeout_seconds,
            read_timeout=read_timeout_seconds,
        )
        self._clients: dict[str, TableClient] = {}
        self._clients_lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections; the store cannot be used afterwards."""
        self._service.close()

    # --- CheckedTableStore's hooks: the arguments are already checked ---

    def _create_tables(self, tables: Sequence[str]) -> None:
        for table in tables:
            try:
                self._service.create_table_if_not_exists(table)
            except _azure_error() as error:
                raise _translate(error, table) from None

    def _get(self, table: str, partition_key: str, row_key: str) -> Entity | None:
        from azure.core.exceptions import ResourceNotFoundError

        client = self._client(table)
        try:
            found = client.get_entity(partition_key, row_key)
        except ResourceNotFoundError as error:
            if _error_code(error) == "TableNotFound":
                raise _translate(error, table) from None
            return None
        except _azure_error() as error:
            raise _translate(error, table) from None
        return _from_sdk(found)

    def _insert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        client = self._client(table)
        try:
            written = client.create_entity(_to_sdk(partition_key, row_key, data))
        except _azure_error() as error:
            raise _translate(error, table) from None
        return Entity(partition_key, row_key, dict(data), written["etag"])

    def _update(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value], etag: str
    ) -> Entity:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        client = self._client(table)
        try:
            written = client.update_entity(
                _to_sdk(partition_key, row_key, data),
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except _azure_error() as error:
            raise _translate(error, table) from None
        return Entity(partition_key, row_key, dict(data), written["etag"])

    def _upsert(
        self, table: str, partition_key: str, row_key: str, data: Mapping[str, Value]
    ) -> Entity:
        from azure.data.tables import UpdateMode

        client = self._client(table)
        try:
            written = client.upsert_entity(
                _to_sdk(partition_key, row_key, data), mode=UpdateMode.REPLACE
            )
        except _azure_error() as error:
            raise _translate(error, table) from None
        return Entity(partition_key, row_key, dict(data), written["etag"])

    def _delete(self, table: str, partition_key: str, row_key: str, etag: str | None) -> None:
        from azure.core import MatchConditions

        client = self._client(table)
        # The SDK swallows a 404 on delete; the hook lets a conditional delete of a
        # vanished entity still be reported as the conflict it is.
        statuses: list[int] = []

        def remember_status(response: PipelineResponse[Any, Any]) -> None:
            statuses.append(response.http_response.status_code)

        condition = (
            MatchConditions.Unconditionally if etag is None else MatchConditions.IfNotModified
        )
        try:
            client.delete_entity(
                partition_key,
                row_key,
                etag=etag,
                match_condition=condition,
                raw_response_hook=remember_status,
            )
        except _azure_error() as error:
            raise _translate(error, table) from None
        if etag is not None and statuses and statuses[-1] == 404:
            raise ConcurrencyConflict("the entity was deleted since it was read")

    def _query(self, table: str, partition_key: str, row_key_prefix: str) -> list[Entity]:
        client = self._client(table)
        bound = prefix_upper_bound(row_key_prefix)
        parameters = {"pk": partition_key, "lo": row_key_prefix, "hi": bound or ""}
        if not row_key_prefix:
            query_filter = "PartitionKey eq @pk"
        elif bound is None:
            query_filter = "PartitionKey eq @pk and RowKey ge @lo"
        else:
            query_filter = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        try:
            found = [
                _from_sdk(e) for e in client.query_entities(query_filter, parameters=parameters)
            ]
        except _azure_error() as error:
            raise _translate(error, table) from None
        # The service returns a partition in row-key order; sorting again is cheap
        # insurance that both adapters order the same way (code point order).
        found.sort(key=lambda entity: entity.row_key)
        return found

    def _scan(self, table: str, row_key: str | None) -> Iterator[Entity]:
        """Pages through the table lazily; errors surface while iterating."""
        client = self._client(table)
        if row_key is None:
            return self._iterate(table, client.list_entities())
        pages = client.query_entities("RowKey eq @rk", parameters={"rk": row_key})
        return self._iterate(table, pages)

    def _scan_older(
        self, table: str, selection: OlderThan, resume: str | None, page_size: int
    ) -> ScanPage:
        """One request: the service filters (``$filter``), returns at most
        ``page_size`` matches and a continuation when it has more to scan (it also
        stops after about five seconds of scanning, with an empty page)."""
        client = self._client(table)
        query_filter, parameters = _older_filter(selection)
        token = _azure_cursor(resume)
        try:
            # The SDK types the token as str, but its entity pager takes and gives the
            # dict of next partition and row key; hence Any.
            pager: Any = client.query_entities(
                query_filter, parameters=parameters, results_per_page=page_size
            )
            pages: Any = pager.by_page(continuation_token=token)
            found = [_from_sdk(entity) for entity in next(pages)]
        except StopIteration:
            return ScanPage([], None)
        except _azure_error() as error:
            raise _translate(error, table) from None
        following = pages.continuation_token
        return ScanPage(found, json.dumps(following, sort_keys=True) if following else None)

    # --- plumbing ---

    def _client(self, table: str) -> TableClient:
        """The table's client (no request is made); the name was checked already."""
        client = self._clients.get(table)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(table)
                if client is None:
                    client = self._clients[table] = self._service.get_table_client(table)
        return client

    def _iterate(self, table: str, entities: Iterator[TableEntity]) -> Iterator[Entity]:
        try:
            for entity in entities:
                yield _from_sdk(entity)
        except _azure_error() as error:
            raise _translate(error, table) from None


def azure_table_store_from_endpoint(endpoint: str) -> AzureTableStore:
    """The production store: Azure Table storage reached with the app's managed identity.

    ``DefaultAzureCredential`` picks the managed identity in Azure (the user-assigned
    one when ``AZURE_CLIENT_ID`` is set) and a developer's ``az login`` elsewhere. No
    account key is ever used.
    """
    from azure.identity import DefaultAzureCredential

    return AzureTableStore(endpoint, DefaultAzureCredential())


# --- scan_older: the filter and the cursor ---


def _older_filter(selection: OlderThan) -> tuple[str, dict[str, Any]]:
    """The OData ``$filter`` of a selection, with its values as parameters (the SDK
    quotes them). Property names are checked identifiers (``CheckedTableStore``)."""
    parts = [f"{selection.time_property} lt @before"]
    parameters: dict[str, Any] = {"before": selection.before}
    if selection.row_key is not None:
        parts.append("RowKey eq @rk")
        parameters["rk"] = selection.row_key
    for key, name, prefix in (
        ("RowKey", "r", selection.row_key_prefix),
        ("PartitionKey", "p", selection.partition_key_prefix),
    ):
        if prefix:
            parts.append(f"{key} ge @{name}lo")
            parameters[f"{name}lo"] = prefix
            bound = prefix_upper_bound(prefix)
            if bound is not None:
                parts.append(f"{key} lt @{name}hi")
                parameters[f"{name}hi"] = bound
    if selection.blank_property:
        parts.append(f"{selection.blank_property} eq @blank")
        parameters["blank"] = ""
    return " and ".join(parts), parameters


def _azure_cursor(resume: str | None) -> dict[str, str] | None:
    """The SDK's continuation token (next partition and row key) from our cursor.

    Raises:
        ValueError: ``resume`` was not made by this adapter.
    """
    if resume is None:
        return None
    try:
        token = json.loads(resume)
    except ValueError:
        raise ValueError("resume is not a cursor of this store") from None
    if not isinstance(token, dict) or not set(token) <= {"PartitionKey", "RowKey"}:
        raise ValueError("resume is not a cursor of this store")
    if not all(isinstance(value, str | None) for value in token.values()):
        raise ValueError("resume is not a cursor of this store")
    return token


# --- conversions ---


def _to_sdk(partition_key: str, row_key: str, data: Mapping[str, Value]) -> dict[str, Any]:
    """An SDK entity. Ints beyond 32 bits are typed Int64 explicitly; the SDK would
    otherwise send them as Int32 and fail."""
    from azure.data.tables import EdmType, EntityProperty

    entity: dict[str, Any] = {"PartitionKey": partition_key, "RowKey": row_key}
    for name, value in data.items():
        if type(value) is int and not _INT32_MIN <= value <= _INT32_MAX:
            entity[name] = EntityProperty(value, EdmType.INT64)
        else:
            entity[name] = value
    return entity


def _from_sdk(entity: TableEntity) -> Entity:
    """Our entity: keys and etag out of the SDK's metadata, Int64 wrappers unwrapped."""
    from azure.data.tables import EntityProperty

    data: dict[str, Value] = {}
    for name, value in entity.items():
        if name in _KEYS:
            continue
        data[name] = value.value if isinstance(value, EntityProperty) else value
    etag = entity.metadata.get("etag") or ""  # the service always sends one
    return Entity(entity["PartitionKey"], entity["RowKey"], data, etag)


# --- errors ---


def _azure_error() -> type[Exception]:
    """The SDK's base exception, imported lazily (for ``except`` clauses)."""
    from azure.core.exceptions import AzureError

    return AzureError


def _error_code(error: Exception) -> str:
    """The service's error code, e.g. "TableNotFound" (not every SDK path parses it)."""
    code = getattr(error, "error_code", None)
    response = getattr(error, "response", None)
    if code is None and response is not None:
        code = response.headers.get("x-ms-error-code")
    return str(getattr(code, "value", code) or "")  # TableErrorCode is a str enum


def _translate(error: Exception, table: str) -> IntegrationError:
    """Map an SDK error to this project's errors (see the module docstring)."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    status = getattr(error, "status_code", None)
    if isinstance(error, ClientAuthenticationError) or status in (401, 403):
        # Nothing was applied, and the fix (a role assignment, which also takes
        # minutes to propagate) is outside the message: retry, do not dead-letter.
        return TransientError(
            f"table storage refused the credentials for table {table!r} "
            "(check the identity's 'Storage Table Data Contributor' role)"
        )
    if not isinstance(error, HttpResponseError) or status is None:
        return TransientError(
            f"table storage could not be reached for table {table!r} ({type(error).__name__})"
        )
    code = _error_code(error)
    if code == "TableNotFound":
        return StoreError(f"table {table!r} does not exist; call create_tables first")
    if status == 409 and code == "EntityAlreadyExists":
        return EntityExists("an entity with these keys already exists")
    if status in (404, 412):
        return ConcurrencyConflict("the entity changed or was deleted since it was read")
    if status in (408, 429) or status >= 500:
        return TransientError(f"table storage is unavailable for table {table!r} ({status} {code})")
    return StoreError(f"table storage rejected a request on table {table!r} ({status} {code})")
