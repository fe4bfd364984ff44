#!/usr/bin/env bash
# Regenerate helppoint/calls/audio/help-voice.ogg: the speech a simulated unit's microphone hears
# when its caller talks (docs/triage.md). Spoken by espeak-ng (Debian package espeak-ng), in
# Opus at 48 kHz mono, about 9 s; it is committed, so the demo needs neither tool.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp --suffix=.wav)
trap 'rm -f "$tmp"' EXIT
espeak-ng -v en-gb -s 150 -w "$tmp" \
    "Help! Please, somebody help me. There is a man following me, I am scared. Can you hear me? Please send someone."
ffmpeg -hide_banner -loglevel error -y -i "$tmp" -ar 48000 -ac 1 -c:a libopus -b:a 24k \
    -map_metadata -1 -fflags +bitexact helppoint/calls/audio/help-voice.ogg
