#!/usr/bin/env python3
"""Convert the BYU-PCCL Chit-Chat dataset.json into govstream's dialogue text format.

Usage: chitchat_to_text.py DATASET_JSON OUTPUT_TXT [--stats STATS_JSON]

Output format (documented in docs/DATA.md):
  * one conversation per line, conversations sorted by their UUID key;
  * the turns of a conversation in order, separated by a single TAB;
  * a turn is the consecutive messages of one sender, joined by a single space;
  * every whitespace run (Python str.split() definition, i.e. Unicode
    whitespace, including TAB/CR/LF) collapsed to one space and trimmed;
  * empty messages and empty turns dropped; if dropping an empty turn leaves
    two turns of the same sender adjacent, they are one turn and are merged;
  * conversations with fewer than 2 turns dropped;
  * UTF-8, no BOM, '\\n' after every line, no trailing TAB.

Standard library only, deterministic: the same input gives byte-identical output.
Counts go to stderr; --stats also writes them as JSON for the provenance record.
"""

import argparse
import hashlib
import json
import os
import sys


def _no_duplicate_keys(pairs):
    # json.load silently keeps the last of duplicate keys; a duplicated
    # conversation UUID would lose data, so refuse instead.
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate JSON key {key!r}")
        obj[key] = value
    return obj


def clean(text):
    """Collapse every whitespace run to one space and trim."""
    if not isinstance(text, str):
        raise TypeError(f"message text is {type(text).__name__}, expected str")
    return " ".join(text.split())


def convert_conversation(conv_id, conv, stats):
    """Return (turns, utterances): the non-empty turns (str) of one conversation."""
    messages = conv.get("messages") if isinstance(conv, dict) else None
    if not isinstance(messages, list):
        raise ValueError(f"{conv_id}: 'messages' is not a list")
    turns = []  # [sender, [texts]]
    for turn in messages:
        if not isinstance(turn, list):
            raise ValueError(f"{conv_id}: a turn is not a list")
        stats["turns_in"] += 1
        texts = []
        sender = None
        for msg in turn:
            stats["messages_in"] += 1
            text = clean(msg.get("text"))
            if not text:
                stats["empty_messages_dropped"] += 1
                continue
            if sender is None:
                sender = msg.get("sender")
            texts.append(text)
        if not texts:
            stats["empty_turns_dropped"] += 1
            continue
        # Dropping an empty turn can leave the same sender twice in a row;
        # that is one turn by definition, so merge rather than fake a reply.
        if turns and turns[-1][0] == sender:
            stats["turns_merged"] += 1
            turns[-1][1].extend(texts)
        else:
            turns.append([sender, texts])
    return [" ".join(texts) for _, texts in turns], sum(len(t) for _, t in turns)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("dataset_json")
    ap.add_argument("output_txt")
    ap.add_argument("--stats", help="also write the counts as JSON to this file")
    args = ap.parse_args(argv)

    with open(args.dataset_json, "r", encoding="utf-8") as f:
        data = json.load(f, object_pairs_hook=_no_duplicate_keys)
    if not isinstance(data, dict):
        raise ValueError("dataset.json: top level is not an object")

    stats = {
        "conversations_in": len(data),
        "turns_in": 0,
        "messages_in": 0,
        "empty_messages_dropped": 0,
        "empty_turns_dropped": 0,
        "turns_merged": 0,
        "conversations_dropped_lt2_turns": 0,
        "conversations": 0,
        "turns": 0,
        "utterances": 0,
        "bytes": 0,
    }

    sha = hashlib.sha256()
    # Write to a sibling temp file and rename, so an interrupted run never
    # leaves a truncated corpus under the final name.
    tmp_path = args.output_txt + ".tmp"
    with open(tmp_path, "wb") as out:
        for conv_id in sorted(data):
            turns, utterances = convert_conversation(conv_id, data[conv_id], stats)
            if len(turns) < 2:
                stats["conversations_dropped_lt2_turns"] += 1
                continue
            line = ("\t".join(turns) + "\n").encode("utf-8")
            out.write(line)
            sha.update(line)
            stats["conversations"] += 1
            stats["turns"] += len(turns)
            stats["utterances"] += utterances
            stats["bytes"] += len(line)
    os.replace(tmp_path, args.output_txt)
    stats["sha256"] = sha.hexdigest()

    print(
        f"chitchat_to_text: {stats['conversations']} conversations, "
        f"{stats['turns']} turns, {stats['utterances']} utterances, "
        f"{stats['bytes']} bytes "
        f"(input: {stats['conversations_in']} conversations, "
        f"{stats['messages_in']} messages; dropped "
        f"{stats['empty_messages_dropped']} empty messages, "
        f"{stats['empty_turns_dropped']} empty turns, "
        f"merged {stats['turns_merged']} same-sender turns, "
        f"{stats['conversations_dropped_lt2_turns']} conversations with < 2 turns)",
        file=sys.stderr,
    )
    if args.stats:
        with open(args.stats, "w", encoding="utf-8") as f:
            json.dump(stats, f, indent=2, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
