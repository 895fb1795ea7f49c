"""GPU slots: a Prefect global concurrency limit (TRANSCRIPTION_LIMIT, sized by `callqa deploy --gpu-slots`)
held around each call's speech recognition and diarization on a Prefect server, so the workers of a fleet
never run more transcriptions at once than the GPUs take; in Prefect's ephemeral mode there is no limit.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

TRANSCRIPTION_LIMIT = "callqa-transcription"  # the global concurrency limit of GPU slots (callqa deploy --gpu-slots)


def slot_lease_seconds(lease_minutes: float) -> float:
    """How long a held transcription slot outlives a killed worker: the call's own lease, but at least the
    minute a Prefect server accepts (the lease is renewed while the worker lives)."""
    return max(60.0, lease_minutes * 60.0)


def _transcription_limit_active() -> bool:
    """True on a Prefect server (not the ephemeral one of `callqa run`) that has an active TRANSCRIPTION_LIMIT."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return False
    with get_client(sync_client=True) as client:
        try:
            return client.read_global_concurrency_limit_by_name(TRANSCRIPTION_LIMIT).active
        except ObjectNotFound:
            return False


@contextmanager
def transcription_slot(call_id: str, lease_minutes: float):
    """Held around one call's speech recognition and diarization only (process_recording's
    `transcription_slot`): one slot of TRANSCRIPTION_LIMIT when the server has that limit, else nothing.
    Download, decoding and the analysis run outside it, so a GPU serves the next call meanwhile."""
    if not _transcription_limit_active():
        yield
        return
    from prefect.concurrency.sync import concurrency
    from prefect.logging import get_run_logger

    logger, asked = get_run_logger(), time.time()
    with concurrency(TRANSCRIPTION_LIMIT, occupy=1, lease_duration=slot_lease_seconds(lease_minutes)):
        taken = time.time()
        logger.info("transcription slot taken for %s after %.1f s", call_id, taken - asked)
        try:
            yield
        finally:
            logger.info("transcription slot released for %s after %.1f s", call_id, time.time() - taken)


def set_transcription_slots(client, slots: int) -> None:
    """Create or resize TRANSCRIPTION_LIMIT to `slots` (the GPUs' total transcriptions at once); 0 removes it."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_global_concurrency_limit_by_name(TRANSCRIPTION_LIMIT)
    except ObjectNotFound:
        if slots:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=TRANSCRIPTION_LIMIT, limit=slots))
        return
    if slots:
        client.update_global_concurrency_limit(TRANSCRIPTION_LIMIT,
                                               GlobalConcurrencyLimitUpdate(limit=slots, active=True))
    else:
        client.delete_global_concurrency_limit_by_name(TRANSCRIPTION_LIMIT)
