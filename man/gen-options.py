#!/usr/bin/python3
"""Writes musqratt.toml(5) from man/musqratt.toml.5.in, its KEYS section made from the broker's
own `--print-config` (every key, its default and meaning), so the manual page can never miss a
key. Usage: man/gen-options.py path/to/musqratt man/musqratt.toml.5.in OUTPUT"""
import re
import subprocess
import sys


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text)


binary, template, output = sys.argv[1:4]
printed = subprocess.run([binary, "--print-config"], check=True, capture_output=True, text=True).stdout
items = []
for meaning, key, value in re.findall(r"^# (.*)\n(\w+) = (.*)$", printed, re.M):
    items.append(f".TP\n.B {roff(key)}\n{roff(meaning)}.\nDefault: {roff(value)}.")
page = open(template).read().replace("@OPTIONS@", "\n".join(items))
open(output, "w").write(page)
