#!/usr/bin/env python3
"""Write small synthetic seed inputs to fuzz/corpus/<target>/ (git-ignored). No real data."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


HEADERS = {
    "mitdb": "101 2 360 650000\n101.dat 212 200 11 1024 955 29832 0 MLII\n"
    "101.dat 212 200 11 1024 992 19589 0 V1\n# 75 F 1011 654 x1\n",
    "multifreq": "sel102 2 250/360(0) 3\nsel102.dat 212x2:1+3 200(0)/uV 11 1024 962 6 0 V5\n"
    "sel102.dat 212x2:1+3 0 11 1024 1262 3 0 V2\n",
    "fmt16": "r 1 100 3\n# comment\nr.dat 16 1000(-5)/uV 16 0 5 60 0 ECG lead I\n",
    "nofr": "r 1 100\nr.dat 16\n",
}
for k, v in HEADERS.items():
    put("wfdb_header", k, v)


def pack212(values):
    out = b""
    for i in range(0, len(values), 2):
        a = values[i] & 0xFFF
        b = values[i + 1] & 0xFFF if i + 1 < len(values) else 0
        out += bytes([a & 0xFF, (a >> 8) | ((b >> 8) << 4), b & 0xFF])
    return out


put("wfdb_signal", "212", b"r 2 360 3\nr.dat 212 200 12 0 0 6\nr.dat 212 200 12 0 0 -6\n\0"
    + pack212([1, -1, 2, -2, 3, -3]))
put("wfdb_signal", "16", b"r 1 100 3\nr.dat 16:1 10(0)/mV 16 0 10 60 0 ECG\n\0"
    + struct.pack("<3h", 10, 20, 30))
put("wfdb_signal", "multifreq", HEADERS["multifreq"].encode() + b"\0" + b"\0\0\0" + pack212(list(range(12))))


def word(code, field):
    return struct.pack("<H", (code << 10) | field)


ann = word(1, 100) + word(61, 3) + word(5, 50) + word(62, 1) + word(63, 3) + b"(N\0\0"
ann += word(59, 0) + struct.pack("<HH", 1, 0x86A0) + word(28, 0) + word(60, 7) + word(1, 10) + b"\0\0"
put("wfdb_annotations", "mixed", ann)
put("wfdb_annotations", "empty", b"")
put("wfdb_annotations", "end", b"\0\0")


def edf(reserved, n_records, duration, signals, records):
    pad = lambda s, w: str(s).ljust(w)[:w]
    ns = len(signals)
    h = pad("0", 8) + pad("X X X X", 80) + pad("Startdate X X X X", 80) + "01.01.1100.00.00"
    h += pad(256 * (ns + 1), 8) + pad(reserved, 44) + pad(n_records, 8) + pad(duration, 8) + pad(ns, 4)
    for i, w in [(0, 16), (None, 80), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (None, 80), (6, 8), (None, 32)]:
        h += "".join(pad("" if i is None else s[i], w) for s in signals)
    return h.encode() + b"".join(records)


ECG = ("ECG", "mV", -1, 1, -1000, 1000, 4)
ANN = ("EDF Annotations", "", -1, 1, -32768, 32767, 16)
s = lambda *v: struct.pack("<%dh" % len(v), *v)
tal = lambda t: t.encode().ljust(32, b"\0")
put("edf", "edfplus", edf("EDF+C", 2, 1, [ECG, ANN],
    [s(0, 500, 1000, -1000) + tal("+0\x14\x14\0+0.5\x150.25\x14beat\x14\0"), s(1, 2, 3, 4) + tal("+1\x14\x14\0")]))
put("edf", "plain", edf("", -1, 1, [ECG, ("Resp", "uV", 0, 100, 0, 100, 2)], [s(1, 2, 3, 4, 5, 6)]))
put("edf", "edfd", edf("EDF+D", 1, 1, [ECG, ANN], [s(0, 0, 0, 0) + tal("+0\x14\x14\0")]))

CSVS = {
    "polar": "time,ecg,hr,rr\n1714920600006020096,-0.098,,\n1714920600013702400,-0.084,90,421\n",
    "datetime": "local_datetime,ecg_raw\n2019-10-23 12:31:51.003906,0.0\n2019-10-23 12:31:51.007812,-1.0\n",
    "semicolon": "\ufeffTime (s);ECG (uV)\r\n0;1,5\r\n\r\n0,004;2\r\n",
    "quoted": '"a"\t"b ""x"""\t"c"\n"1, 2"\t3\t4\n',
    "rr": "timestamp,rri_ms,hr_bpm\n1782140956.121975,998,60.12\n",
}
for k, v in CSVS.items():
    for flags in (0, 3):
        put("csv", f"{k}{flags}", bytes([flags]) + v.encode())

RR_LOGS = {
    "app": "timestamp,rri_ms,hr_bpm\r\n1782140956.121975,998,60.12\r\n1782140957.15,1018,58.9\r\n1782140957.15,872,68.8\r\n",
    "plain": "\ufeffIBI\n0.81\n\n0.84\n0.79\n",
    "ms_time": "time_ms;NN (ms)\n0;800\n900;900\n1800;\n2700;820\n",
    "epoch": "unix\tRR\n1782140968120\t800\n1782140969120\t810\n",
}
for k, v in RR_LOGS.items():
    put("rr_log", k, v.encode())
