//! policykb's native passage reader.
//!
//! The embedded engine keeps one tantivy entry per passage (document id, seq, page and
//! the passage's terms). For a page of hits, the service needs, per document, how many
//! passages match the query, on which pages, and the best passage for the snippet. The
//! pure-Python path asks tantivy for a terms aggregation and one or two small searches per
//! document; this module answers the same question in one call, walking each document's
//! passage postings against each term's scorer.
//!
//! Scores are those of the Python path: 1 (the document clause) plus each held term's
//! BM25, summed as tantivy's f32 scores, plus `term_weight` per distinct term held.

use std::sync::{Arc, RwLock};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use tantivy::collector::Count;
use tantivy::columnar::Column;
use tantivy::query::{EnableScoring, Query, Scorer, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocId, DocSet, Index, IndexReader, InvertedIndexReader, ReloadPolicy, Searcher, SegmentReader,
    Term, TERMINATED,
};

/// (seq, page, score) of one passage.
type Best = (i64, Option<i64>, f64);
/// Per document: (matching passages, [(page, matching passages there)], best passages).
type DocAnswer = (u64, Vec<(i64, u64)>, Vec<Best>);

fn os_error(err: tantivy::TantivyError) -> PyErr {
    PyOSError::new_err(format!("passage index: {err}"))
}

/// What a search reads from each segment, opened once per reload (opening a fast-field
/// column costs more than reading a page of hits from it).
struct SegmentView {
    doc_ids: Arc<InvertedIndexReader>,
    seq: Column<i64>,
    page: Column<i64>,
}

/// One reload's searcher and segment views.
struct View {
    searcher: Searcher,
    segments: Vec<SegmentView>,
}

impl View {
    fn open(reader: &IndexReader, doc_id: Field) -> tantivy::Result<View> {
        let searcher = reader.searcher();
        let segments = searcher
            .segment_readers()
            .iter()
            .map(|seg| {
                let fast = seg.fast_fields();
                Ok(SegmentView {
                    doc_ids: seg.inverted_index(doc_id)?,
                    seq: fast.i64("seq")?,
                    page: fast.i64("page")?,
                })
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(View { searcher, segments })
    }
}

/// A read-only view of one passage index folder, reloaded on request.
#[pyclass(frozen)]
struct PassageReader {
    reader: IndexReader,
    doc_id: Field,
    body: Field,
    view: RwLock<Arc<View>>,
}

/// One document's live passages in one segment, in address order, with what the terms
/// add to each.
struct Rows {
    doc: usize,
    addrs: Vec<DocId>,
    held: Vec<u32>,
    bm25: Vec<f32>,
}

fn doc_rows(
    seg: &SegmentReader,
    view: &SegmentView,
    field: Field,
    ids: &[String],
) -> tantivy::Result<Vec<Rows>> {
    let alive = seg.alive_bitset();
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let term = Term::from_field_text(field, id);
        let Some(mut postings) = view
            .doc_ids
            .read_postings(&term, IndexRecordOption::Basic)?
        else {
            continue;
        };
        let mut addrs = Vec::new();
        let mut d = postings.doc();
        while d != TERMINATED {
            if alive.map_or(true, |a| a.is_alive(d)) {
                addrs.push(d);
            }
            d = postings.advance();
        }
        if !addrs.is_empty() {
            let n = addrs.len();
            out.push(Rows {
                doc: i,
                addrs,
                held: vec![0; n],
                bm25: vec![0.0; n],
            });
        }
    }
    // Address order, so one scorer per term walks forward through every document.
    out.sort_unstable_by_key(|r| r.addrs[0]);
    Ok(out)
}

/// Walk one term's scorer through a document's passage addresses (leapfrog: the scorer
/// seeks the next address, the addresses skip to the scorer's document).
/// The scorer may stand past the row's first addresses already (it has no posting
/// between the last address it was asked for and where it stands).
fn add_term(scorer: &mut dyn Scorer, row: &mut Rows) {
    let addrs = &row.addrs;
    let here = scorer.doc();
    let mut i = addrs.partition_point(|&a| a < here);
    while i < addrs.len() {
        let d = scorer.seek(addrs[i]);
        if d == TERMINATED {
            return;
        }
        if d == addrs[i] {
            row.held[i] += 1;
            row.bm25[i] += scorer.score();
            i += 1;
        } else {
            i += addrs[i..].partition_point(|&a| a < d);
        }
    }
}

type Candidate = (f64, u32, DocId); // score, segment, address

impl PassageReader {
    fn current(&self) -> Arc<View> {
        Arc::clone(&self.view.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn answer(
        &self,
        view: &View,
        ids: &[String],
        terms: &[String],
        per_doc: usize,
        max_pages: usize,
        term_weight: f64,
    ) -> tantivy::Result<Vec<DocAnswer>> {
        let searcher = &view.searcher;
        let mut words: Vec<&String> = terms.iter().collect();
        words.sort();
        words.dedup();
        let mut matched = vec![0u64; ids.len()];
        // the page of each matching passage, per document
        let mut pages: Vec<Vec<i64>> = vec![Vec::new(); ids.len()];
        let mut best: Vec<Vec<Candidate>> = vec![Vec::new(); ids.len()];
        let mut hits: Vec<DocId> = Vec::new();
        let mut hit_pages: Vec<Option<i64>> = Vec::new();
        if words.is_empty() {
            return Ok(ids.iter().map(|_| (0, Vec::new(), Vec::new())).collect());
        }
        let weights = words
            .iter()
            .map(|t| {
                TermQuery::new(
                    Term::from_field_text(self.body, t),
                    IndexRecordOption::WithFreqs,
                )
                .weight(EnableScoring::enabled_from_searcher(searcher))
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        for (ord, (seg, sv)) in searcher
            .segment_readers()
            .iter()
            .zip(&view.segments)
            .enumerate()
        {
            let mut rows = doc_rows(seg, sv, self.doc_id, ids)?;
            if rows.is_empty() {
                continue;
            }
            for w in &weights {
                let mut scorer = w.scorer(seg, 1.0)?;
                let mut sought: Option<DocId> = None; // the furthest address it may have passed
                for row in rows.iter_mut() {
                    if sought.is_some_and(|s| row.addrs[0] <= s) {
                        // documents whose passages interleave: a fresh scorer
                        scorer = w.scorer(seg, 1.0)?;
                    }
                    add_term(scorer.as_mut(), row);
                    sought = sought.max(row.addrs.last().copied());
                }
            }
            for row in &rows {
                hits.clear();
                for (k, &addr) in row.addrs.iter().enumerate() {
                    let held = row.held[k];
                    if held == 0 {
                        continue;
                    }
                    hits.push(addr);
                    let score = f64::from(1.0f32 + row.bm25[k]) + term_weight * f64::from(held);
                    best[row.doc].push((score, ord as u32, addr));
                }
                matched[row.doc] += hits.len() as u64;
                hit_pages.clear();
                hit_pages.resize(hits.len(), None);
                sv.page.first_vals(&hits, &mut hit_pages);
                pages[row.doc].extend(hit_pages.iter().flatten());
            }
        }
        let order =
            |a: &Candidate, b: &Candidate| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2)));
        let mut out = Vec::with_capacity(ids.len());
        for i in 0..ids.len() {
            let held = &mut pages[i];
            held.sort_unstable();
            let mut listed: Vec<(i64, u64)> = Vec::new();
            for &p in held.iter() {
                if let Some((last, n)) = listed.last_mut() {
                    if *last == p {
                        *n += 1;
                        continue;
                    }
                }
                if listed.len() == max_pages {
                    break;
                }
                listed.push((p, 1));
            }
            // The per_doc best as a search of the document's passages returns them: by
            // score, ties in address order (the caller orders them as it compares).
            let cands = &mut best[i];
            let keep = per_doc.min(cands.len());
            if keep > 0 && keep < cands.len() {
                cands.select_nth_unstable_by(keep - 1, order);
            }
            cands.truncate(keep);
            cands.sort_unstable_by(order);
            let top = cands
                .iter()
                .map(|&(score, ord, addr)| {
                    let sv = &view.segments[ord as usize];
                    (sv.seq.first(addr).unwrap_or(0), sv.page.first(addr), score)
                })
                .collect();
            out.push((matched[i], listed, top));
        }
        Ok(out)
    }
}

#[pymethods]
impl PassageReader {
    #[new]
    fn new(path: &str) -> PyResult<Self> {
        let index = Index::open_in_dir(path).map_err(os_error)?;
        let schema = index.schema();
        let field = |name: &str| {
            schema
                .get_field(name)
                .map_err(|_| PyValueError::new_err(format!("passage index has no field {name}")))
        };
        let doc_id = field("doc_id")?;
        let body = field("body")?;
        for name in ["seq", "page"] {
            field(name)?;
        }
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(os_error)?;
        let view = RwLock::new(Arc::new(View::open(&reader, doc_id).map_err(os_error)?));
        Ok(PassageReader {
            reader,
            doc_id,
            body,
            view,
        })
    }

    /// See the latest commit of the folder.
    fn reload(&self) -> PyResult<()> {
        self.reader.reload().map_err(os_error)?;
        let fresh = Arc::new(View::open(&self.reader, self.doc_id).map_err(os_error)?);
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// Passage entries (live ones) in the reader's view: a check that it sees what the
    /// Python binding sees.
    fn num_docs(&self) -> PyResult<u64> {
        let searcher = &self.current().searcher;
        let q = tantivy::query::AllQuery;
        searcher
            .search(&q, &Count)
            .map(|n| n as u64)
            .map_err(os_error)
    }

    /// For each of ``doc_ids`` (in order): (matching passages, [(page, matching passages
    /// there)] ascending, at most ``max_pages``; [(seq, page, score)], the ``per_doc``
    /// best by score, ties in index order). A passage matches when it holds one of
    /// ``terms``.
    fn passages(
        &self,
        py: Python<'_>,
        doc_ids: Vec<String>,
        terms: Vec<String>,
        per_doc: usize,
        max_pages: usize,
        term_weight: f64,
    ) -> PyResult<Vec<DocAnswer>> {
        let view = self.current();
        py.detach(|| self.answer(&view, &doc_ids, &terms, per_doc, max_pages, term_weight))
            .map_err(os_error)
    }
}

#[pymodule]
fn policykb_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PassageReader>()?;
    Ok(())
}
