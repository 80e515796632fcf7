#!/usr/bin/env python3
# gst-mesh
# Copyright (C) 2026 gst-mesh developers
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<name>/
# (<name>-fuzz.c's):
# a handful of small valid inputs each, in the input format of the target
# (see the top of each *-fuzz.c). Run it from anywhere; it replaces the
# files it writes and leaves others alone (hash-list's seeds are made by
# hand). The seeds are committed: run it again only to change them.
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# HLS: the text as is

HLS = {
    "master.m3u8": """#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio/en.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="French",LANGUAGE="fr",URI="subs/fr.m3u8"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,FRAME-RATE=29.970,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="aac",SUBTITLES="subs",CLOSED-CAPTIONS="cc"
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2400000,RESOLUTION=1280x720,CODECS="avc1.4d401f,mp4a.40.2",AUDIO="aac",CLOSED-CAPTIONS=NONE
https://cdn.example.com/high/index.m3u8?token=abc
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI="iframe.m3u8"
""",
    "vod.m3u8": """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:4.000,first
seg0.ts
#EXTINF:4.000,
seg1.ts
#EXTINF:2.5,
seg2.ts
#EXT-X-ENDLIST
""",
    "live-aes.m3u8": """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1234
#EXT-X-DISCONTINUITY-SEQUENCE:7
#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x000102030405060708090a0b0c0d0e0f
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXTINF:2.000,
live1234.ts
#EXT-X-KEY:METHOD=SAMPLE-AES,KEYFORMAT="com.apple.streamingkeydelivery",URI="skd://k"
#EXT-X-KEY:METHOD=AES-128,URI="key2.bin"
#EXTINF:2.000,
live1235.ts
#EXT-X-DISCONTINUITY
#EXT-X-KEY:METHOD=NONE
#EXTINF:2.000,
live1236.ts
#EXT-X-GAP
#EXTINF:2.000,
live1237.ts
""",
    "fmp4-byterange.m3u8": """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="main.mp4",BYTERANGE="720@0"
#EXT-X-BYTERANGE:100000@720
#EXTINF:6.006,
main.mp4
#EXT-X-BYTERANGE:90000
#EXTINF:6.006,
main.mp4
#EXT-X-MAP:URI="other-init.mp4"
#EXTINF:5.005,
other.m4s
""",
    "no-target.m3u8": "\ufeff#EXTM3U\r\n#EXTINF:1.5,\r\na.ts\r\n\r\n#EXTINF:0.5,\r\nb.ts\r\n",
}

# ---------------------------------------------------------------------------
# DASH: byte 0 chooses (0: MPD, 1: sidx)

MPD_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
            'xmlns:cenc="urn:mpeg:cenc:2013" minBufferTime="PT2S" %s>\n')

MPDS = {
    "template-number.mpd": MPD_HEAD % 'type="static" mediaPresentationDuration="PT8S"' + """<BaseURL>media/</BaseURL>
<Period id="p0" duration="PT8S">
<AdaptationSet contentType="video" mimeType="video/mp4" codecs="avc1.42c00d" segmentAlignment="true">
<SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="$RepresentationID$/seg-$Number%05d$.m4s" initialization="$RepresentationID$/init.mp4"/>
<Representation id="v0" bandwidth="300000" width="640" height="360" frameRate="30000/1001"/>
<Representation id="v1" bandwidth="900000" width="1280" height="720" frameRate="29.97"/>
</AdaptationSet>
<AdaptationSet contentType="audio" mimeType="audio/mp4" codecs="mp4a.40.2" lang="en">
<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>
<SegmentTemplate timescale="48000" duration="96000" media="a/$Number$.m4s" initialization="a/init.mp4"/>
<Representation id="a0" bandwidth="128000"/>
</AdaptationSet>
</Period>
</MPD>
""",
    "timeline-live.mpd": MPD_HEAD % ('type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z" '
                                    'publishTime="2026-01-01T01:00:00Z" minimumUpdatePeriod="PT2S" '
                                    'timeShiftBufferDepth="PT30S" suggestedPresentationDelay="PT6S"') + """<Location>https://cdn.example.com/live/manifest.mpd</Location>
<Period id="live" start="PT0S">
<AdaptationSet contentType="video" mimeType="video/mp4">
<SegmentTemplate timescale="90000" presentationTimeOffset="900000" media="$Bandwidth$/$Time$.m4s" initialization="$Bandwidth$/init.mp4">
<SegmentTimeline><S t="900000" d="180000" r="2"/><S d="179999"/><S t="1620000" d="180000" r="-1"/></SegmentTimeline>
</SegmentTemplate>
<Representation id="v" bandwidth="500000"/>
</AdaptationSet>
</Period>
<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="https://time.example.com/now"/>
<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2026-01-01T01:00:00Z"/>
</MPD>
""",
    "segment-list.mpd": MPD_HEAD % 'type="static" mediaPresentationDuration="PT10S"' + """<Period duration="PT10S"><BaseURL>list/</BaseURL>
<AdaptationSet mimeType="video/mp4">
<SegmentList timescale="10" duration="40">
<Initialization sourceURL="init.mp4" range="0-799"/>
<SegmentURL media="a.mp4" mediaRange="800-1999"/>
<SegmentURL media="a.mp4" mediaRange="2000-2999"/>
<SegmentURL media="http://elsewhere.example.com/c.mp4"/>
</SegmentList>
<Representation id="dur" bandwidth="1"/>
<Representation id="tl" bandwidth="2"><SegmentList><SegmentTimeline><S d="30"/><S d="50" r="1"/></SegmentTimeline></SegmentList></Representation>
</AdaptationSet>
</Period>
</MPD>
""",
    "segment-base-periods.mpd": MPD_HEAD % 'type="static" mediaPresentationDuration="PT8S"' + """<Period id="a" duration="PT4S">
<AdaptationSet mimeType="video/mp4" codecs="avc1.42c00d">
<Representation id="v" bandwidth="400000"><BaseURL>v.mp4</BaseURL>
<SegmentBase timescale="1000" indexRange="944-999"><Initialization range="0-943"/></SegmentBase></Representation>
</AdaptationSet>
<AdaptationSet mimeType="text/vtt" lang="fr"><Representation id="subs" bandwidth="0"><BaseURL>fr.vtt</BaseURL></Representation></AdaptationSet>
</Period>
<Period id="b">
<AdaptationSet mimeType="video/mp4" codecs="avc1.42c00d">
<SegmentBase timescale="1000" presentationTimeOffset="4000" indexRange="944-999"/>
<Representation id="v" bandwidth="400000"><BaseURL>v.mp4</BaseURL></Representation>
</AdaptationSet>
</Period>
</MPD>
""",
    "protected.mpd": MPD_HEAD % 'type="static" mediaPresentationDuration="PT4S"' + """<Period duration="PT4S">
<AdaptationSet contentType="video" mimeType="video/mp4">
<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="10000000-1000-1000-1000-100000000001"/>
<ContentProtection schemeIdUri="urn:uuid:EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED"><cenc:pssh>AAAAIHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAAA=</cenc:pssh></ContentProtection>
<SegmentTemplate duration="2" media="$Number$.m4s" endNumber="2"/>
<Representation id="v" bandwidth="1000">
<ContentProtection schemeIdUri="urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95" value="other"/>
</Representation>
</AdaptationSet>
</Period>
</MPD>
""",
}


def sidx(version, timescale, earliest, first_offset, refs):
    """A 'sidx' box; refs: (reference_type, size, duration)"""
    body = struct.pack(">B3xII", version, 1, timescale)
    if version == 0:
        body += struct.pack(">II", earliest, first_offset)
    else:
        body += struct.pack(">QQ", earliest, first_offset)
    body += struct.pack(">HH", 0, len(refs))
    for ref_type, size, duration in refs:
        body += struct.pack(">III", ref_type << 31 | size, duration,
                            1 << 31 | 1 << 28)
    return struct.pack(">I4s", 8 + len(body), b"sidx") + body


SIDX = {
    "sidx-v0.bin": sidx(0, 1000, 0, 0, [(0, 100, 1000)] * 8),
    "sidx-v1.bin": sidx(1, 90000, 1 << 33, 24, [(0, 5000, 180000), (0, 7000, 180000), (0, 300, 45000)]),
    "sidx-hierarchical.bin": sidx(0, 1000, 0, 0, [(1, 400, 4000), (0, 100, 1000)]),
}

# ---------------------------------------------------------------------------
# Tracker: bit 0 of byte 0 is the direction (0: to the tracker)

TO_TRACKER = [
    '{"type":"join","version":1,"swarm":"https://cdn.example/live/ch1.m3u8",'
    '"peer":"k3Jx9_QmT2a-8bYw","token":"1767225600.4f1ce9","caps":{"upload":true}}',
    '{"type":"signal","to":"Zr81_pQe0vLx-4Ka","data":{"sdp":"v=0\\r\\n","candidates":[]}}',
    '{"type":"get-peers"}',
    '{"type":"heartbeat"}',
    '{"type":"leave"}',
    '{"type":"join","version":1,"swarm":"s","peer":"k3Jx9_QmT2a-8bYw","network":"site-7"}',
    '{"type":"qos","version":1,"cdn_bytes":5242880,"peer_bytes":15728640,'
    '"uploaded_bytes":9437184,"stalls":0,"stall_ms":0,"startup_ms":840,'
    '"bitrate":4000000,"width":1280,"height":720,"peers":4,"network":"site-7"}',
]
TO_CLIENT = [
    '{"type":"welcome","version":1,"peer":"k3Jx9_QmT2a-8bYw",'
    '"swarm":"https://cdn.example/live/ch1.m3u8","heartbeat":15,'
    '"peers":[{"peer":"Zr81_pQe0vLx-4Ka","upload":true}]}',
    '{"type":"peers","peers":[{"peer":"Zr81_pQe0vLx-4Ka","upload":false}]}',
    '{"type":"peer-joined","peer":"Zr81_pQe0vLx-4Ka","upload":true}',
    '{"type":"peer-left","peer":"Zr81_pQe0vLx-4Ka"}',
    '{"type":"signal","from":"k3Jx9_QmT2a-8bYw","data":{"sdp":"v=0\\r\\n","candidates":[]}}',
    '{"type":"error","code":"unknown-peer","message":"no such peer in this swarm","fatal":false}',
]

# ---------------------------------------------------------------------------
# Wire: byte 0 seeds the cuts, then frames (docs/protocol.md 2.2)


def frame(frame_type, payload):
    return struct.pack(">IB", 1 + len(payload), frame_type) + payload


def string(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


HELLO = frame(1, b"MESH" + bytes([2, 1]) + string("sw") + string("pee"))
WIRE = {
    "hello.bin": bytes([0]) + HELLO,
    "session.bin": bytes([1]) + HELLO
    + frame(2, struct.pack(">HQIQI", 2, 17, 1000, 18, 2000))
    + frame(3, struct.pack(">HQ", 1, 19))
    + frame(4, struct.pack(">HQ", 1, 17))
    + frame(11, struct.pack(">Q", 42)) + frame(12, struct.pack(">Q", 42)),
    "transfer.bin": bytes([2])
    + frame(5, struct.pack(">IQQQI", 0x01020304, 0x1011121314151617, 256, 32, 1500))
    + frame(6, struct.pack(">IQ", 0x01020304, 256) + bytes(range(32)))
    + frame(7, struct.pack(">IQ", 0x01020304, 32))
    + frame(8, struct.pack(">I", 5)) + frame(9, struct.pack(">IB", 6, 2)),
    "error.bin": bytes([3]) + frame(10, struct.pack(">H", 5) + string("too many peers")),
}

# ---------------------------------------------------------------------------
# WebSocket connection: bounds, piece size, then a client's masked frames
# (RFC 6455 section 5)


def ws_frame(opcode, payload, fin=True, mask=b"\x01\x02\x03\x04"):
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    elif len(payload) < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


WS_CONN = {
    "text.bin": bytes([0x3F, 255]) + ws_frame(1, b'{"type":"heartbeat"}'),
    "pieces.bin": bytes([0x10, 2]) + ws_frame(1, b"hello") + ws_frame(9, b"ping")
    + ws_frame(1, b"x" * 200),
    "fragments.bin": bytes([0x20, 7]) + ws_frame(1, b"frag", fin=False)
    + ws_frame(9, b"") + ws_frame(0, b"ment", fin=False) + ws_frame(0, b"ed"),
    "close.bin": bytes([0x08, 255]) + ws_frame(1, b"!bye")
    + ws_frame(8, struct.pack(">H", 1000) + b"ok"),
    "binary.bin": bytes([0x04, 3]) + ws_frame(2, bytes(range(40)))
    + ws_frame(10, b"pong") + ws_frame(8, b""),
}


def write(target, name, data):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    for name, text in HLS.items():
        write("hls", name, text)
    for name, text in MPDS.items():
        write("dash", name, b"\0" + text.encode())
    for name, box in SIDX.items():
        write("dash", name, b"\1" + box)
    for i, text in enumerate(TO_TRACKER):
        write("tracker", "to-tracker-%d.json" % i, b"\0" + text.encode())
    for i, text in enumerate(TO_CLIENT):
        write("tracker", "to-client-%d.json" % i, b"\1" + text.encode())
    for name, data in WIRE.items():
        write("wire", name, data)
    for name, data in WS_CONN.items():
        write("ws-conn", name, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
