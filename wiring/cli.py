"""The ``policykb`` command line: ingest, serve, search, reindex, stats, settings."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from policykb.errors import (
    EXIT_FILES_FAILED,
    InputError,
    PolicyKBError,
    storage_error,
)
from policykb.settings import SETTINGS, SettingsError, load_settings
from wiring.evaluation import SET_NAMES

HINTS = {
    "storage": "디스크 공간과 POLICYKB_DATA_DIR의 권한을 확인한 뒤 같은 명령을 다시 실행하세요.",
    "engine": "POLICYKB_ES_URL과 Elasticsearch의 상태를 확인한 뒤 같은 명령을 다시 실행하세요.",
    "input": "`policykb --help`와 README를 참고하세요.",
}


def report_error(exc: PolicyKBError) -> None:
    """Print ``exc`` by its cause (class label, Korean message, the underlying reason) and
    exit with its class's status."""
    click.echo("", err=True)
    click.echo(f"{exc.label}: {exc.message}", err=True)
    if exc.reason:
        click.echo(f"  원인: {exc.reason}", err=True)
    if not isinstance(exc, InputError):
        click.echo(
            "  이미 반영된 내용은 그대로 남습니다; 다시 실행하면 이어서 처리합니다.", err=True
        )
    hint = next((h for k, h in HINTS.items() if exc.code.startswith(k)), None)
    if hint:
        click.echo(f"  {hint}", err=True)
    sys.exit(exc.exit_code)


class Commands(click.Group):
    """Every command's errors are reported by cause: storage (exit 4), engine (exit 5),
    input (exit 2); see the README's "Errors and exit codes"."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PolicyKBError as exc:
            report_error(exc)
        except (OSError, sqlite3.OperationalError) as exc:
            report_error(storage_error(exc))


def _progress(
    quiet: bool, line: Callable[..., str], final: Callable[..., bool] | None = None
) -> Callable[..., None]:
    """A progress callback that rewrites one stderr line (``line(*args)``) at most twice a
    second, and on the last call when ``final(*args)`` says so; silent when ``quiet``."""
    last = [0.0]

    def progress(*args) -> None:
        now = time.monotonic()
        if not quiet and (now - last[0] > 0.5 or (final is not None and final(*args))):
            last[0] = now
            click.echo(f"\r{line(*args)}", nl=False, err=True)

    return progress


def _report(rt, quiet: bool, problems, label: str, *lines: str) -> None:
    """The end of a long command: its problems, one per line, then its counts."""
    if not quiet:
        click.echo("", err=True)
    for where, reason in problems:
        click.echo(f"{label} {where}: {reason}", err=True)
    for line in lines:
        click.echo(line)


def _in_store_and_index(rt) -> str:
    return f"documents in store: {rt.store.count_documents()}, in index: {rt.backend.count()}"


def _runtime():
    from wiring.runtime import Runtime

    try:
        return Runtime(load_settings())
    except SettingsError as exc:
        raise InputError("설정 값이 잘못되었습니다", str(exc), code="input_settings") from exc


@click.group(cls=Commands, help="policykb: Korean public-policy document search.")
def main() -> None:
    pass


@main.command(help="Ingest files or folders (a folder may hold manifest.csv/manifest.jsonl).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sync", is_flag=True, help="Remove documents whose files are gone.")
@click.option("--retry-failed", is_flag=True, help="Only retry files that failed before.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Extraction/analysis worker processes (default: up to 2).",
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "processes", "threads"]),
    default="auto",
    show_default=True,
    help="processes: a Kiwi per worker process; threads: this process, one Kiwi with "
    "--workers threads of its own (same results); auto: threads when most input bytes "
    "are text files (.txt, .md, .html), else processes.",
)
@click.option(
    "--wait-suggestions",
    is_flag=True,
    help="Rebuild the search-box suggestions before exiting (default: in the background).",
)
@click.option(
    "--stages",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the run's seconds per stage (workers and this process) to this JSON file.",
)
def ingest(
    paths: tuple[Path, ...],
    sync: bool,
    retry_failed: bool,
    quiet: bool,
    workers: int | None,
    mode: str,
    wait_suggestions: bool,
    stages: Path | None,
) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputError("입력 경로가 없습니다", ", ".join(missing), code="input_path")
    rt = _runtime()

    progress = _progress(
        quiet,
        lambda report, _path: f"{report.progress_line():<100}",
        lambda report, _path: report.seen == report.total_files,
    )

    if mode == "auto":
        from ingest.pipeline import pick_mode

        mode = pick_mode(paths)
    if mode == "threads":  # before the analyzer loads: one Kiwi, with its threads
        from analyzers.kiwi import set_kiwi_threads

        set_kiwi_threads(workers or 2)
    report = rt.ingester(workers, suggestions_now=wait_suggestions, mode=mode).run(
        list(paths), sync=sync, retry_failed=retry_failed, progress=progress
    )
    if stages is not None:
        stages.write_text(json.dumps(report.stages, indent=1, sort_keys=True))
    _report(rt, quiet, report.failures, "FAILED", report.summary(), _in_store_and_index(rt))
    if report.failed:
        click.echo(
            f"입력 파일 {report.failed}개를 처리하지 못했습니다 (이유는 위 FAILED 줄과 "
            "`policykb stats`; 고친 뒤 `policykb ingest --retry-failed`).",
            err=True,
        )
        sys.exit(EXIT_FILES_FAILED)


@main.command(help="Rebuild the search-box suggestion index from the store.")
@click.option(
    "--dictionary-first",
    is_flag=True,
    help="First save the index with the user dictionary's current words (seconds), then "
    "rebuild it (what a lexicon edit starts).",
)
def suggestions(dictionary_first: bool) -> None:
    rt = _runtime()
    started = time.monotonic()
    n = rt.rebuild_suggestions(dictionary_first)
    click.echo(f"suggestions: {n} entries ({time.monotonic() - started:.1f}s)")


@main.group(help="Bibliographic catalogues of the institutes (metadata-only records).")
def catalogue() -> None:
    pass


@catalogue.command(
    "import",
    help="Import catalogue files: the ri-portal JSON, or JSON Lines/CSV with title, authors, "
    "year or date, institute, doc_type, url, id.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--source", default=None, help="Source name (default: each file's name).")
@click.option("--sync", is_flag=True, help="Remove this source's records no longer listed.")
@click.option(
    "--institutes",
    "institutes_file",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="institutes.json with regions (default: the one beside each file, if any).",
)
@click.option("--quiet", is_flag=True, help="No progress display.")
def catalogue_import(files, source, sync, institutes_file, quiet) -> None:
    from ingest.catalogue import CatalogueImporter

    rt = _runtime()
    progress = _progress(quiet, lambda report, total: f"{report.progress_line(total):<100}")

    with rt.analysis_writer("목록 가져오기"):
        report = CatalogueImporter(rt.store, rt.backend, rt.analyzer).run(
            list(files),
            source=source,
            sync=sync,
            institutes_file=institutes_file,
            progress=progress,
        )
    counts = f"imported {report.imported}, updated {report.updated}, rejected {report.rejected}"
    _report(
        rt, quiet, report.rejections, "REJECTED", report.summary(), counts, _in_store_and_index(rt)
    )


@main.command(help="Fetch the originals of catalogue records from their URLs and ingest them.")
@click.option("--retry-failed", is_flag=True, help="Only the records whose harvest failed.")
@click.option("--source", default=None, help="Only this catalogue source.")
@click.option("--limit", type=int, default=None, help="At most this many records.")
@click.option("--quiet", is_flag=True, help="No progress display.")
def harvest(retry_failed: bool, source: str | None, limit: int | None, quiet: bool) -> None:
    rt = _runtime()

    def line(report, total) -> str:
        done = report.fetched + report.unchanged + report.failed
        return (
            f"{done}/{total} records, fetched {report.fetched}, "
            f"unchanged {report.unchanged}, failed {report.failed}"
        )

    progress = _progress(quiet, line)

    report = rt.harvester().run(
        retry_failed=retry_failed, source=source, limit=limit, progress=progress
    )
    _report(rt, quiet, report.failures, "FAILED", report.summary())


@main.command(help="Serve the web UI and JSON API (development server).")
@click.option("--host", default=None, help="Bind address (default: POLICYKB_HOST).")
@click.option("--port", default=None, type=int, help="Port (default: POLICYKB_PORT).")
def serve(host: str | None, port: int | None) -> None:
    from search_app.serving import RequestHandler
    from wiring.wsgi import create_app

    app = create_app()
    settings = app.extensions["policykb"].settings
    app.run(
        host=host or settings.host,
        port=port or settings.port,
        debug=False,
        use_reloader=False,
        threaded=True,
        request_handler=RequestHandler,
    )


@main.command(help="Search from the command line.")
@click.argument("query", nargs=-1)
@click.option("--institute", multiple=True)
@click.option("--region", multiple=True)
@click.option("--doc-type", "doc_type", multiple=True)
@click.option("--author", multiple=True)
@click.option("--year-from", type=int)
@click.option("--year-to", type=int)
@click.option("--sort", default="relevance")
@click.option("--page", default=1, type=int)
@click.option("--size", default=10, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def search(
    query, institute, region, doc_type, author, year_from, year_to, sort, page, size, as_json
) -> None:
    from policykb.query import QuerySyntaxError
    from policykb.service import RequestError, parse_request

    rt = _runtime()
    args = {
        "q": [" ".join(query)],
        "institute": list(institute),
        "region": list(region),
        "doc_type": list(doc_type),
        "author": list(author),
        "year_from": [str(year_from)] if year_from else [],
        "year_to": [str(year_to)] if year_to else [],
        "sort": [sort],
        "page": [str(page)],
        "size": [str(size)],
    }
    try:
        result = rt.service.search(parse_request(args, rt.settings))
    except (RequestError, QuerySyntaxError) as exc:
        raise InputError(exc.message, code="input_query") from exc
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    import html
    import re

    click.echo(f"{result.total}건 ({result.took_ms:.1f} ms)")
    for n, hit in enumerate(result.hits, start=result.size * (result.page - 1) + 1):
        snippet = html.unescape(re.sub(r"</?mark>", "*", hit.snippet))
        mark = "" if hit.has_original else "  (원문 없음)"
        click.echo(
            f"{n:3}. {hit.title}  [{hit.institute} · {hit.doc_type} · {hit.date or '-'}]{mark}"
        )
        click.echo(f"     {snippet}" + (f"  (p.{hit.page})" if hit.page else ""))


@main.command(help="Rebuild the search index from the document store (zero downtime).")
@click.option(
    "--reanalyze",
    is_flag=True,
    help="Re-analyze every document, not only stale ones (for comparison and recovery).",
)
def reindex(reanalyze: bool) -> None:
    rt = _runtime()

    def progress(done, total):
        click.echo(f"\rindexed {done}/{total}", nl=False, err=True)

    started = time.perf_counter()
    info = rt.reindex(progress, reanalyze=reanalyze)
    click.echo("", err=True)
    click.echo(f"took {time.perf_counter() - started:.1f} s", err=True)
    click.echo(
        f"reindexed {info['documents']} documents "
        f"({info['reanalyzed']} re-analyzed); index: {rt.backend.info()}"
    )


@main.command(help="Document, file and index statistics.")
@click.option("--json", "as_json", is_flag=True)
def stats(as_json: bool) -> None:
    rt = _runtime()
    data = {
        "documents": rt.store.count_documents(),
        "files": rt.store.file_counts(),
        "index": rt.backend.info(),
        "analyzer": rt.analyzer.identity,
        "lexicon": rt.analyzer.lexicon.sources,
        "stale_documents": rt.store.count_stale(rt.analyzer.identity),
        "facets": rt.store.facet_counts(),
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"documents: {data['documents']}")
    click.echo(f"files: {data['files']}")
    click.echo(f"index: {data['index']}")
    click.echo(f"analyzer: {data['analyzer']} (lexicon: {data['lexicon']})")
    from policykb.store import INDEX_PENDING_KEY

    pending = [d for d in (rt.store.get_meta(INDEX_PENDING_KEY) or "").split(",") if d]
    if pending:
        click.echo(
            f"{len(pending)} documents re-analyzed by an interrupted lexicon edit are not yet "
            "re-indexed: run `policykb reindex`"
        )
    if data["stale_documents"]:
        click.echo(
            f"{data['stale_documents']} documents were analyzed by another analyzer version "
            "(dictionary or synonyms changed): run `policykb reindex`"
        )
    for facet, counts in data["facets"].items():
        click.echo(f"{facet}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for f in rt.store.list_files("failed"):
        click.echo(f"FAILED {f.path}: {f.error}")


@main.group(help="Edit the user dictionary and synonyms; applied at once to what they change.")
def lexicon() -> None:
    pass


def _lexicon_edit(texts_of, description: str, preview: bool, queries: tuple[str, ...]) -> None:
    rt = _runtime()
    editor = rt.lexicon_editor()
    texts = texts_of(editor)
    if preview:
        base = editor.queries
        editor.queries = lambda: [*queries, *base()]
        plan = editor.preview(texts, description)
        click.echo(f"{description}: {plan.summary()} ({plan.seconds:.1f} s)")
        for ex in plan.examples():
            click.echo(f"  {ex['doc_id']} {ex['where']}: {ex['excerpt']}")
            click.echo(f"    - {' '.join(ex['removed']) or '(없음)'}")
            click.echo(f"    + {' '.join(ex['added']) or '(없음)'}")
        for q in plan.queries:
            click.echo(f"  결과가 바뀔 수 있는 검색어: {q.query}")
        click.echo("미리 보기만 했습니다 (저장하지 않음).")
        return
    result = rt.edit_lexicon(texts, description)
    click.echo(result.line())


_PREVIEW = click.option("--preview", is_flag=True, help="Show what would change; save nothing.")
_QUERY = click.option(
    "--query", "queries", multiple=True, help="With --preview: also check this search."
)


@lexicon.command("add-word", help="Add (or replace) a user dictionary word.")
@click.argument("word")
@click.option("--tag", default="NNP", show_default=True, help="Kiwi tag (NNG, NNP, …).")
@click.option("--score", type=float, default=0.0, show_default=True)
@click.option("--parts", default="", help="Space-separated parts that spell the word.")
@_PREVIEW
@_QUERY
def lexicon_add_word(word, tag, score, parts, preview, queries) -> None:
    _lexicon_edit(
        lambda e: e.texts_adding_word(word, tag, score, tuple(parts.split())),
        f"add-word {word}",
        preview,
        queries,
    )


@lexicon.command("remove-word", help="Remove a user dictionary word.")
@click.argument("word")
@_PREVIEW
@_QUERY
def lexicon_remove_word(word, preview, queries) -> None:
    _lexicon_edit(lambda e: e.texts_removing_word(word), f"remove-word {word}", preview, queries)


def _synonym_command(name: str, help: str, texts: str):
    """``lexicon NAME CANONICAL [VARIANTS...]``: the edit is ``LexiconEditor.<texts>``."""

    @lexicon.command(name, help=help)
    @click.argument("canonical")
    @click.argument("variants", nargs=-1)
    @_PREVIEW
    @_QUERY
    def command(canonical, variants, preview, queries) -> None:
        _lexicon_edit(
            lambda e: getattr(e, texts)(canonical, variants),
            f"{name} {canonical} {' '.join(variants)}".strip(),
            preview,
            queries,
        )

    return command


lexicon_add_synonym = _synonym_command(
    "add-synonym", "Add a synonym group (the first entry is canonical).", "texts_adding_synonyms"
)
lexicon_remove_synonym = _synonym_command(
    "remove-synonym",
    "Remove the group of CANONICAL, or only the VARIANTS given.",
    "texts_removing_synonyms",
)


@main.group(help="Admin accounts and API tokens.")
def admin() -> None:
    pass


@admin.command("create-user", help="Create an admin (or reset its password).")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(username: str, password_stdin: bool) -> None:
    from policykb.accounts import AccountError

    rt = _runtime()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        rt.accounts.create_user(username, password)
    except AccountError as exc:
        raise InputError(str(exc), code="input_account") from exc
    rt.accounts.audit(username, "create_user", {"via": "cli"})
    click.echo(f"admin {username} saved")


@admin.command("create-token", help="Create an API token for scripts (shown once).")
@click.argument("username")
@click.option("--label", default="")
def create_token(username: str, label: str) -> None:
    from policykb.accounts import AccountError

    rt = _runtime()
    try:
        token = rt.accounts.create_token(username, label)
    except AccountError as exc:
        raise InputError(str(exc), code="input_account") from exc
    rt.accounts.audit(username, "create_token", {"label": label, "via": "cli"})
    click.echo(token)


@main.command(name="settings", help="List settings, their environment variables and help.")
def settings_cmd() -> None:
    for s in SETTINGS:
        click.echo(f"{s.env:<28} default={s.default!s:<24} {s.help}")


@main.command(
    name="eval",
    help="Retrieval quality on six real sets (dev and test halves), policykb on both "
    "engines against whitespace, bigram and nori BM25 in the same run.",
)
@click.option(
    "--set",
    "set_names",
    multiple=True,
    type=click.Choice(list(SET_NAMES)),
    help="Sets to run (repeat; default: all).",
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    type=click.Choice(["embedded", "elasticsearch"]),
    default=("embedded", "elasticsearch"),
    help="Engines for policykb (repeat; default: both; Elasticsearch at POLICYKB_ES_URL).",
)
@click.option("--limit", type=int, default=0, help="At most N queries per set (evenly spaced).")
@click.option(
    "--ablate", is_flag=True, help="Also switch each ranking component off (dev halves only)."
)
@click.option(
    "--half",
    type=click.Choice(["all", "dev", "test"]),
    default="all",
    help="Run and score only this half's queries (tune with --half dev).",
)
@click.option("--no-peers", is_flag=True, help="Skip the BM25 peers (policykb only).")
@click.option(
    "--index-cache",
    type=click.Path(path_type=Path),
    help="Keep each set's ingested store + embedded index (and the peers' rankings) here "
    "and reuse them while documents, analyzer and schema are unchanged.",
)
@click.option(
    "--reindex",
    is_flag=True,
    help="With --index-cache: rebuild the engine index from the kept store (index-time "
    "code changed; no re-analysis).",
)
@click.option(
    "--patch",
    "patches",
    multiple=True,
    metavar="MODULE:NAME=VALUE",
    help="Run with a ranking constant changed, e.g. policykb.service:FUSION_WEIGHT=0.5 "
    "(repeat; VALUE a Python literal): a variant for `bench.ranking_compare`.",
)
@click.option("--output", type=click.Path(path_type=Path), help="Write results as JSON.")
@click.option("--markdown", type=click.Path(path_type=Path), help="Write results as Markdown.")
def eval_cmd(patches, **options) -> None:
    from wiring.evaluation import parse_patch, patched

    try:
        settings = [parse_patch(p) for p in patches]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--patch") from exc
    with patched(settings):
        _eval(patches=list(patches), **options)


def _eval(
    set_names,
    backends,
    limit,
    ablate,
    half,
    no_peers,
    index_cache,
    reindex,
    output,
    markdown,
    patches,
) -> None:
    import dataclasses

    from wiring.evaluation import (
        HEADER,
        evaluate_set,
        half_of,
        is_long,
        load_sets,
        markdown_report,
        only_half,
    )

    rt = _runtime()
    shared = Path(_shared(""))
    report: dict = {"tuned_on": "dev", "half": half, "patches": patches, "sets": {}}
    for s in load_sets(shared, rt.analyzer, set_names or None, limit):
        s = only_half(s, half)
        click.echo(f"\n== {s.name}: {s.label}: {len(s.docs)} documents, {len(s.queries)} queries")
        ranks: dict = {}
        results = evaluate_set(
            s,
            backends,
            rt.settings.es_url,
            peers=not no_peers,
            ablate=ablate,
            cache=index_cache,
            reindex=reindex,
            ranks=ranks,
        )
        report["sets"][s.name] = {
            "label": s.label,
            "documents": len(s.docs),
            "slices": {
                sl: {name: dataclasses.asdict(m) for name, m in rows.items()}
                for sl, rows in results.items()
            },
            "queries": [
                {"q": q.text, "target": q.relevant, "half": half_of(q), "long": is_long(q)}
                for q in s.queries
            ],
            "ranks": ranks,
        }
        for sl, rows in results.items():
            n = next(iter(rows.values())).queries
            click.echo(f"-- {s.name} {sl} ({n} queries)")
            click.echo(HEADER)
            for m in rows.values():
                click.echo(m.row())
        if output:  # after every set, so a long run keeps what it measured
            Path(output).write_text(json.dumps(report, ensure_ascii=False, indent=2))
        if markdown:
            Path(markdown).write_text(markdown_report(report), encoding="utf-8")


def _shared(rel: str) -> str:
    import os

    base = Path(os.environ.get("POLICYKB_SHARED_DIR", Path.cwd().parent / "shared"))
    return str(base / "data" / rel)


@main.command(
    "metadata-eval",
    help="Titles, publishers, types and dates against the labelled public-docs set.",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="public-docs folder (default: $POLICYKB_SHARED_DIR/data/public-docs).",
)
@click.option(
    "--labels", type=click.Path(exists=True, path_type=Path), default=None, help="Labels TSV."
)
@click.option(
    "--ocr",
    type=click.Choice(["auto", "off"]),
    default="auto",
    help="OCR for PDFs without a text layer (auto: Tesseract, cached).",
)
@click.option("--misses/--no-misses", default=True, help="List every wrong field.")
def metadata_eval_cmd(data_dir, labels, ocr, misses) -> None:
    import os

    from ingest.metadata_eval import LABELS, evaluate, format_report, load_labels

    if data_dir is None:
        shared = Path(os.environ.get("POLICYKB_SHARED_DIR", "../shared"))
        data_dir = shared / "data" / "public-docs"
    if not Path(data_dir).is_dir():
        raise click.ClickException(f"public-docs 폴더가 없습니다: {data_dir}")
    outcomes = evaluate(Path(data_dir), load_labels(labels or LABELS), ocr=ocr)
    click.echo(format_report(outcomes, misses=misses))


if __name__ == "__main__":
    main()
