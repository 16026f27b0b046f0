// Lucene nori BM25 with Elasticsearch's defaults, as a retrieval peer for `policykb eval`.
//
// KoreanAnalyzer() = nori_tokenizer (decompound_mode DISCARD, no user dictionary),
// nori_part_of_speech with the default stop tags, nori_readingform and lowercase: what
// Elasticsearch's "nori" analyzer does. BM25Similarity(k1=1.2, b=0.75). Queries are built
// by Lucene's QueryBuilder with SHOULD clauses, like Elasticsearch's `match` query.
//
// Usage: java -cp <lucene jars>:. NoriBm25 DOCS.tsv QUERIES.txt OUT.tsv [TOPK]
//   DOCS.tsv: id<TAB>text per line; QUERIES.txt: one query per line;
//   OUT.tsv: per query line, the ids of the top TOPK hits separated by tabs;
//   the last line of stderr reports the search time in ms.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.ko.KoreanAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.util.QueryBuilder;

public final class NoriBm25 {
  public static void main(String[] args) throws Exception {
    int topK = args.length > 3 ? Integer.parseInt(args[3]) : 100;
    Analyzer analyzer = new KoreanAnalyzer();
    BM25Similarity bm25 = new BM25Similarity(1.2f, 0.75f);
    ByteBuffersDirectory dir = new ByteBuffersDirectory();
    IndexWriterConfig cfg = new IndexWriterConfig(analyzer).setSimilarity(bm25);
    try (IndexWriter writer = new IndexWriter(dir, cfg);
        BufferedReader in = Files.newBufferedReader(Path.of(args[0]), StandardCharsets.UTF_8)) {
      String line;
      while ((line = in.readLine()) != null) {
        int tab = line.indexOf('\t');
        if (tab < 0) continue;
        Document doc = new Document();
        doc.add(new StoredField("id", line.substring(0, tab)));
        doc.add(new TextField("body", line.substring(tab + 1), Field.Store.NO));
        writer.addDocument(doc);
      }
      writer.forceMerge(1);
    }
    List<String> queries = Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8);
    try (DirectoryReader reader = DirectoryReader.open(dir);
        BufferedWriter out = Files.newBufferedWriter(Path.of(args[2]), StandardCharsets.UTF_8)) {
      IndexSearcher searcher = new IndexSearcher(reader);
      searcher.setSimilarity(bm25);
      QueryBuilder builder = new QueryBuilder(analyzer);
      long started = System.nanoTime();
      for (String q : queries) {
        Query query = builder.createBooleanQuery("body", q, BooleanClause.Occur.SHOULD);
        List<String> ids = new ArrayList<>();
        if (query != null) {
          for (ScoreDoc sd : searcher.search(query, topK).scoreDocs) {
            ids.add(searcher.storedFields().document(sd.doc).get("id"));
          }
        }
        out.write(String.join("\t", ids));
        out.write('\n');
      }
      System.err.println("search_ms " + (System.nanoTime() - started) / 1e6);
    }
  }
}
