"""Rendering speed of décisions d'attribution: fast batch path against one weasyprint call each.

    uv run --frozen python bench/documents.py --count 1000

Both paths run in the same process pool, one worker per core, started and warmed up (stylesheet
and fonts loaded) before timing. The fast path renders all N decisions, in classes of 28 students
(three MEFs per establishment), so each class lays out its shared page once inside the timing.
The naive path renders a sample of at most --naive-sample decisions (it is ~11× slower), one
`render_one` call per decision. A sample of fast outputs is then checked with pypdf.
The last line is `decisions_per_s=<fast> naive_per_s=<naive> ratio=<fast/naive>`.
"""

import argparse
import io
import logging
import os
import time
from concurrent.futures import Executor
from typing import Any

import pypdf
import structlog
from aplypro_documents.domain.model import AttributionDecision
from aplypro_documents.rendering import _weasy
from aplypro_documents.rendering.formatting import full_name
from aplypro_documents.rendering.payloads import from_payload, to_payload
from aplypro_documents.rendering.pool import render_parallel, worker_pool
from aplypro_documents.rendering.renderer import DEFAULT_CHUNK_SIZE, render_one
from aplypro_documents.rendering.samples import class_decisions


def render_naive(payloads: list[dict[str, Any]]) -> list[bytes]:
    """Worker side of the naive path: one weasyprint call per decision."""
    return [render_one(from_payload(payload)) for payload in payloads]


def naive_parallel(docs: list[AttributionDecision], executor: Executor, chunk: int) -> list[bytes]:
    futures = [
        executor.submit(render_naive, [to_payload(doc) for doc in docs[start : start + chunk]])
        for start in range(0, len(docs), chunk)
    ]
    return [pdf for future in futures for pdf in future.result()]


def check(docs: list[AttributionDecision], pdfs: list[bytes], sample: int) -> int:
    """Each sampled PDF parses, and names its own student and number, not its neighbour's."""
    step = max(1, len(docs) // sample)
    checked = 0
    for index in range(0, len(docs), step):
        reader = pypdf.PdfReader(io.BytesIO(pdfs[index]), strict=True)
        text = " ".join(page.extract_text() for page in reader.pages).replace("\u00a0", " ")
        neighbour = docs[(index + 1) % len(docs)]
        assert full_name(docs[index].student) in text, f"decision {index}: student missing"
        assert docs[index].number in text, f"decision {index}: number missing"
        assert len(docs) == 1 or full_name(neighbour.student) not in text, f"decision {index}: leak"
        checked += 1
    return checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--naive-sample", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))

    docs = class_decisions(args.count)
    naive_docs = docs[: min(args.count, args.naive_sample)]
    print(f"libharfbuzz-subset: {'yes' if _weasy.harfbuzz_subset_available() else 'NO (fontTools)'}")
    print(f"workers={args.workers} count={len(docs)} chunk_size={args.chunk_size} naive_sample={len(naive_docs)}")
    with worker_pool(args.workers) as executor:
        render_parallel(docs[: 2 * args.workers], executor, chunk_size=1)  # start and warm every worker

        started = time.perf_counter()
        pdfs = render_parallel(docs, executor, chunk_size=args.chunk_size)
        fast = len(docs) / (time.perf_counter() - started)

        started = time.perf_counter()
        naive_pdfs = naive_parallel(naive_docs, executor, chunk=max(1, len(naive_docs) // (4 * args.workers)))
        naive = len(naive_docs) / (time.perf_counter() - started)

    checked = check(docs, pdfs, sample=50)
    pages = sum(len(pypdf.PdfReader(io.BytesIO(pdf)).pages) for pdf in pdfs[:20]) / min(20, len(pdfs))
    print(f"checked {checked} fast PDFs with pypdf; {pages:.1f} pages per decision")
    print(f"fast: {len(pdfs)} PDFs, {sum(map(len, pdfs)) / len(pdfs) / 1024:.1f} KiB average")
    print(f"naive: {len(naive_pdfs)} PDFs, {sum(map(len, naive_pdfs)) / len(naive_pdfs) / 1024:.1f} KiB average")
    print(f"decisions_per_s={fast:.2f} naive_per_s={naive:.2f} ratio={fast / naive:.2f}")


if __name__ == "__main__":
    main()
