"""The simulator's transcription: deterministic text that says how long the audio is.

Only WAV is decoded (with the standard library's ``wave``); the text never pretends to be a
transcript: ``"[simulated] 1.50 s of audio"``.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import Any

from headwater.simllm.script import LABEL

FORMATS = ("json", "text", "verbose_json")


class UndecodableAudio(ValueError):
    """The file is not audio the simulator can read (a WAV file)."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the simulator "heard"."""

    duration_s: float
    language: str

    @property
    def text(self) -> str:
        """The transcript text."""
        return f"{LABEL} {self.duration_s:.2f} s of audio"

    def body(self, response_format: str) -> dict[str, Any] | str:
        """The answer in OpenAI's ``response_format`` (``text`` is a plain string)."""
        if response_format == "text":
            return self.text
        if response_format == "verbose_json":
            return {
                "task": "transcribe",
                "language": self.language,
                "duration": round(self.duration_s, 3),
                "text": self.text,
                "segments": [
                    {
                        "id": 0,
                        "seek": 0,
                        "start": 0.0,
                        "end": round(self.duration_s, 3),
                        "text": self.text,
                        "tokens": [],
                        "temperature": 0.0,
                        "avg_logprob": 0.0,
                        "compression_ratio": 1.0,
                        "no_speech_prob": 0.0,
                    }
                ],
            }
        return {"text": self.text}


def transcribe(data: bytes, language: str | None = None) -> Transcript:
    """The transcript of a WAV file; :class:`UndecodableAudio` for anything else."""
    try:
        with wave.open(io.BytesIO(data), "rb") as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
    except (wave.Error, EOFError) as exc:
        reason = str(exc) or "the file ends too early"
        raise UndecodableAudio(f"the simulator reads WAV files only ({reason})") from exc
    if rate <= 0:
        raise UndecodableAudio("the WAV file has no frame rate")
    return Transcript(frames / rate, language or "en")
