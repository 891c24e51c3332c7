"""Lease slots as blob leases on the stamp's storage account: the Azure budget.

Each slot is an empty blob ``slot-<n>`` in one container; holding the slot means
holding the blob's lease. Blob leases are Azure Storage's own distributed lock:
exclusive, 15-60 s long, renewable, and lapsing by themselves when the holder
dies. The app reaches the account with its managed identity (Storage Blob Data
Contributor on the container, see infra/), never with a key.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from shared.errors import TransientError

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, ContainerClient

MIN_DURATION = 15
MAX_DURATION = 60
_LOST = frozenset(
    {
        "LeaseAlreadyPresent",
        "LeaseIdMismatchWithLeaseOperation",
        "LeaseNotPresentWithLeaseOperation",
        "LeaseIsBrokenAndCannotBeRenewed",
        "LeaseLost",
        "LeaseIdMismatchWithBlobOperation",
    }
)
"""Blob service error codes meaning: the slot is someone else's, or our lease is gone."""


class BlobLeases:
    """``LeaseStore`` on one blob container; safe to share between threads."""

    def __init__(self, container: ContainerClient, *, duration: int = 30) -> None:
        """Raises ValueError: ``duration`` is outside Azure's 15-60 s."""
        if not MIN_DURATION <= duration <= MAX_DURATION:
            raise ValueError(f"blob leases last {MIN_DURATION}-{MAX_DURATION} s, not {duration}")
        self._container = container
        self._duration = duration
        self._ready: set[int] = set()
        self._lock = threading.Lock()

    @property
    def duration(self) -> float:
        return float(self._duration)

    def try_acquire(self, slot: int) -> str | None:
        from azure.storage.blob import BlobLeaseClient

        lease = BlobLeaseClient(self._blob(slot))
        try:
            lease.acquire(lease_duration=self._duration)
        except Exception as error:
            if _is_lost(error):
                return None
            raise _unavailable(error) from None
        return str(lease.id)

    def renew(self, slot: int, lease_id: str) -> bool:
        from azure.storage.blob import BlobLeaseClient

        try:
            BlobLeaseClient(self._blob(slot), lease_id=lease_id).renew()
        except Exception as error:
            if _is_lost(error):
                return False
            raise _unavailable(error) from None
        return True

    def release(self, slot: int, lease_id: str) -> None:
        from azure.storage.blob import BlobLeaseClient

        try:
            BlobLeaseClient(self._blob(slot), lease_id=lease_id).release()
        except Exception as error:
            if not _is_lost(error):
                raise _unavailable(error) from None

    def want(self, slot: int) -> None:
        # A separate, never-leased blob: a leased one would refuse a writer without the lease.
        blob = self._container.get_blob_client(f"slot-{slot}-wanted")
        try:
            blob.upload_blob(b"", overwrite=True, metadata={"at": f"{time.time():.3f}"})
        except Exception as error:
            raise _unavailable(error) from None

    def wanted_at(self, slot: int) -> float:
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._container.get_blob_client(f"slot-{slot}-wanted")
        try:
            metadata = blob.get_blob_properties().metadata or {}
        except ResourceNotFoundError:
            return 0.0
        except Exception as error:
            raise _unavailable(error) from None
        try:
            return float(metadata.get("at", 0))
        except ValueError:
            return 0.0

    def _blob(self, slot: int) -> BlobClient:
        """The slot's blob, created (with its container) the first time."""
        from azure.core.exceptions import ResourceExistsError

        blob = self._container.get_blob_client(f"slot-{slot}")
        if slot in self._ready:
            return blob
        try:
            with self._lock:
                if not self._ready:
                    with contextlib.suppress(ResourceExistsError):
                        self._container.create_container()
                # It may exist already, and be leased by another instance.
                with contextlib.suppress(ResourceExistsError):
                    blob.upload_blob(b"", overwrite=False)
                self._ready.add(slot)
        except Exception as error:
            if _is_lost(error):  # a leased blob answers its upload with a lease error
                self._ready.add(slot)
                return blob
            raise _unavailable(error) from None
        return blob


def blob_leases(account_url: str, container: str, *, duration: int = 30) -> BlobLeases:
    """Blob leases on ``account_url`` (``https://<account>.blob.core.windows.net``)
    with the app's managed identity.

    Raises:
        ValueError: the URL is empty or not https.
    """
    if not account_url.startswith("https://"):
        raise ValueError("the link lease account URL must be an https:// blob endpoint")
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import ContainerClient

    client = ContainerClient(account_url, container, credential=DefaultAzureCredential())
    return BlobLeases(client, duration=duration)


def _is_lost(error: Exception) -> bool:
    """A lease error: the slot is held by someone else, or our lease is gone."""
    code = getattr(error, "error_code", None)
    status = getattr(error, "status_code", None)
    return str(code) in _LOST or (status == 409 and code is None)


def _unavailable(error: Any) -> TransientError:
    status = getattr(error, "status_code", None)
    code = getattr(error, "error_code", None) or type(error).__name__
    return TransientError(f"blob storage for the link leases failed ({status or '-'} {code})")
