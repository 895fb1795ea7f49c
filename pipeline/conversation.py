"""From a recording to a conversation: per-channel transcription of stereo calls (one party per channel,
merged by time), speaker diarization of mono calls when a diarizer is given, then agent/customer roles.
Every step reads the call as decoded once by `infra.audio.inspect_recording(pcm_dir=)`.

Off the critical path: the two channels of a stereo call are decoded side by side when the transcriber runs
parallel decodes (`parallel` > 1), and a mono call is diarized in a thread of its own while it is being
transcribed (pyannote's torch and CTranslate2 both release the GIL)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

from core.errors import ChannelLayoutError
from infra.audio import AudioInfo, AudioSource, load_audio
from core.models import Call, Transcript
from transcribe.base import TranscribeOptions, Transcriber
from transcribe.diarize import Diarizer
from transcribe.roles import DEFAULT_RULES, RoleRule, label_roles
from transcribe.run import (batches_across_pieces, detect_recording_language, transcribe_channels,
                            transcribe_recording)
from transcribe.speakers import assign_words_to_speakers, merge_channel_transcripts


@dataclass(frozen=True)
class ConversationOptions:
    split_stereo: bool = True  # one party per channel (telephony recorders); False = mix down
    num_speakers: int | None = 2  # for mono diarization; None = let the diarizer decide
    min_speakers: int | None = None
    max_speakers: int | None = None
    concurrent_diarization: bool = True  # diarize while transcribing (False: after, only if words were heard)


def party_channels(call: Call, info: AudioInfo) -> tuple[int, int]:
    """The two channels that carry the parties: 0 and 1 of a stereo recording; of a recording with more
    channels, the sidecar's `agent_channel` and `customer_channel` (else E107, naming the channels)."""
    if info.channels == 2:
        return 0, 1
    attrs = call.attributes or {}
    a, c = attrs.get("agent_channel"), attrs.get("customer_channel")
    layout = f" ({info.channel_layout})" if info.channel_layout else ""
    if not (isinstance(a, int) and isinstance(c, int) and not isinstance(a, bool) and not isinstance(c, bool)
            and 0 <= a < info.channels and 0 <= c < info.channels and a != c):
        raise ChannelLayoutError(
            f"{info.channels} channels{layout}, numbered 0-{info.channels - 1}; say which carry the parties in "
            f'the sidecar, e.g. "attributes": {{"agent_channel": 0, "customer_channel": 1}}')
    return a, c


def transcribe_conversation(transcriber: Transcriber, path: AudioSource, call: Call, info: AudioInfo, *,
                            options: TranscribeOptions = TranscribeOptions(),
                            conversation: ConversationOptions = ConversationOptions(),
                            diarizer: Diarizer | None = None,
                            role_rules: Sequence[RoleRule] = DEFAULT_RULES) -> Transcript:
    """`path`: the call decoded once (`info.decoded`, a `DecodedAudio`: every channel and the diarization
    input are read from its files, the mono input memory-mapped rather than loaded) or a recording's path
    (decoded again by each step)."""
    if info.channels >= 2 and conversation.split_stereo:
        a, b = party_channels(call, info)
        # Both parties speak the call's language: detected once, on speech of both channels.
        guess = detect_recording_language(transcriber, path, options, channel=a, detect_channels=(b,),
                                          language=call.language)

        def channel(ch_speaker: tuple[int, str]) -> Transcript:
            ch, speaker = ch_speaker
            return transcribe_recording(transcriber, path, call.id, duration=info.duration, options=options,
                                        channel=ch, speaker=speaker, guess=guess)

        parties = ((a, "S0"), (b, "S1"))
        if batches_across_pieces(transcriber):
            # both channels' speech in shared batches, chunk by chunk
            transcripts = transcribe_channels(transcriber, path, call.id, parties, duration=info.duration,
                                              guess=guess, options=options)
        elif getattr(transcriber, "parallel", 1) > 1:
            with ThreadPoolExecutor(2, thread_name_prefix="callqa-channel") as pool:
                transcripts = list(pool.map(channel, parties))
        else:
            transcripts = [channel(p) for p in parties]
        transcript = merge_channel_transcripts(transcripts, call.id)
    else:
        def transcribe() -> Transcript:
            return transcribe_recording(transcriber, path, call.id, duration=info.duration, options=options,
                                        language=call.language)

        def diarize():
            return diarizer.diarize(load_audio(path), num_speakers=conversation.num_speakers,
                                    min_speakers=conversation.min_speakers, max_speakers=conversation.max_speakers)

        if diarizer is not None and conversation.concurrent_diarization:
            with ThreadPoolExecutor(1, thread_name_prefix="callqa-diarize") as pool:
                turns = pool.submit(diarize)
                transcript = transcribe()
                if transcript.segments:  # nothing heard: the turns (or the diarizer's error) are not needed
                    transcript = assign_words_to_speakers(transcript, turns.result())
        else:
            transcript = transcribe()
            if diarizer is not None and transcript.segments:
                transcript = assign_words_to_speakers(transcript, diarize())
    return label_roles(transcript, call, role_rules)
