#!/usr/bin/env python3
"""An old reader of the worker's results: consumes a results topic written
with the Confluent framing, fetches each record's writer schema from the
registry by id, and decodes it with fastavro twice: with the writer's
schema and with an older reader schema (DialogueResult before `context`).
Every field the old schema has must read the same both ways, and the old
reader must not see `context`. Prints JSON counts.

usage: result_reader.py BOOTSTRAP TOPIC REGISTRY_URL OLD_SCHEMA N
"""
import io
import json
import struct
import sys
import urllib.request

import fastavro
from confluent_kafka import Consumer


def main(bootstrap, topic, registry, old_path, n):
    old = fastavro.parse_schema(json.load(open(old_path)))
    old_fields = [f["name"] for f in json.load(open(old_path))["fields"]]
    writers = {}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "old-reader-" + topic,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    seen = mismatched = with_context = 0
    idle = 0
    while seen < n and idle < 30:
        m = c.poll(1.0)
        if m is None:
            idle += 1
            continue
        if m.error():
            continue
        idle = 0
        v = m.value()
        magic, sid = struct.unpack(">bI", v[:5])
        if magic != 0:
            raise SystemExit("record without the Confluent framing")
        if sid not in writers:
            with urllib.request.urlopen("%s/schemas/ids/%d" % (registry, sid)) as r:
                writers[sid] = fastavro.parse_schema(json.loads(json.load(r)["schema"]))
        new = fastavro.schemaless_reader(io.BytesIO(v[5:]), writers[sid])
        got = fastavro.schemaless_reader(io.BytesIO(v[5:]), writers[sid], old)
        if "context" in got or any(got[f] != new[f] for f in old_fields):
            mismatched += 1
        with_context += bool(new.get("context"))
        seen += 1
    c.close()
    print(json.dumps({"read": seen, "mismatched": mismatched, "with_context": with_context,
                      "writer_schemas": len(writers)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
