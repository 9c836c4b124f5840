"""Peak memory and time of a prediction on a large file (default 500,000 rows).

Generates the file with the project's generator, then, in a fresh process per stage, reads
it (``read_table``), forecasts and scores it with the default model (``workflow.predict``,
whose model calls go in chunks of ``PREDICT_BATCH`` rows) and builds the JSON answer.
Prints one JSON line per stage with the peak resident memory of the stage's process
(``VmHWM``, which a fresh ``exec`` resets, unlike ``ru_maxrss``) and the time.

Examples
--------
``.venv/bin/python bench/bench_large_predict.py --rows 500000``
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

STAGES = {
    "import": "",
    "read": "from mods.dataset.io import read_table\nds = read_table(PATH)\n"
            "info['rows'] = ds.n_rows\n",
    "predict": "from mods import workflow\n"
               "fc, ds, pred = workflow.predict(PATH, 'default', models_dir=MODELS)\n"
               "info['rows'] = ds.n_rows\n",
    "predict+json": "from mods import outputs, workflow\n"
                    "fc, ds, pred = workflow.predict(PATH, 'default', models_dir=MODELS)\n"
                    "doc = outputs.prediction_json(fc, ds, pred, 'default')\n"
                    "info['json_bytes'] = len(json.dumps(doc))\n",
}


def _run_stage(stage, path):
    code = ("import json, sys, time\nt0 = time.perf_counter()\ninfo = {}\n"
            "def _hwm_mb():\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmHWM:'):\n"
            "            return round(int(line.split()[1]) / 1024)\n"
            "import numpy, pandas\n"
            "PATH, MODELS = %r, %r\n%s"
            "info.update(stage=%r, seconds=round(time.perf_counter() - t0, 2), "
            "peak_rss_mb=_hwm_mb())\n"
            "print(json.dumps(info))\n"
            % (str(path), str(PROJECT_DIR / "models"), STAGES[stage], stage))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=str(PROJECT_DIR))
    if out.returncode:
        return {"stage": stage, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--file", help="use (or create) this file instead of a temporary one")
    args = parser.parse_args(argv)

    from mods.dataset.generate import generate
    from mods.dataset.io import write_table

    with tempfile.TemporaryDirectory(prefix="mods-large-") as tmp:
        path = Path(args.file or Path(tmp) / ("large-%d.tsv" % args.rows))
        t0 = time.perf_counter()
        if not path.is_file():
            write_table(generate(n_rows=args.rows, seed=0), path)
        print(json.dumps({"stage": "generate", "rows": args.rows,
                          "file_mb": round(path.stat().st_size / 2**20, 1),
                          "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
        for stage in args.stages.split(","):
            print(json.dumps(_run_stage(stage, path)), flush=True)


if __name__ == "__main__":
    main()
