// Lucene nori analysis and analysis + indexing, one thread: the ingest peer of
// `python -m bench.ingest`.
//
// KoreanAnalyzer() is what Elasticsearch's "nori" analyzer does (nori_tokenizer with
// decompound_mode DISCARD, part-of-speech stop tags, reading form, lowercase). Each file
// becomes one document with a stored id and an indexed body (positions and frequencies,
// like a `text` field); the index is committed on disk (no force merge).
//
// Usage: java -cp <lucene jars>:. NoriIngest FILES.txt INDEX_DIR
//   FILES.txt: one path per line (UTF-8 text files). Prints `chars N`, `tokens N`,
//   `analysis_s S` (tokenizing every text, timed after a warm-up pass over a fifth of
//   them) and `index_s S` (analysis + IndexWriter.addDocument + commit, a fresh index).
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.ko.KoreanAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.store.FSDirectory;

public final class NoriIngest {
  private static long analyze(Analyzer analyzer, List<String> texts, int upTo) throws Exception {
    long tokens = 0;
    for (int i = 0; i < upTo; i++) {
      try (TokenStream ts = analyzer.tokenStream("body", texts.get(i))) {
        CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
        ts.reset();
        while (ts.incrementToken()) {
          if (term.length() > 0) tokens++;
        }
        ts.end();
      }
    }
    return tokens;
  }

  public static void main(String[] args) throws Exception {
    List<String> texts = new ArrayList<>();
    long chars = 0;
    for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
      if (line.isBlank()) continue;
      String text = Files.readString(Path.of(line), StandardCharsets.UTF_8);
      texts.add(text);
      chars += text.length();
    }
    Analyzer analyzer = new KoreanAnalyzer();
    analyze(analyzer, texts, Math.max(1, texts.size() / 5)); // JIT warm-up
    long started = System.nanoTime();
    long tokens = analyze(analyzer, texts, texts.size());
    double analysisSeconds = (System.nanoTime() - started) / 1e9;

    started = System.nanoTime();
    IndexWriterConfig cfg = new IndexWriterConfig(analyzer);
    try (FSDirectory dir = FSDirectory.open(Path.of(args[1]));
        IndexWriter writer = new IndexWriter(dir, cfg)) {
      for (int i = 0; i < texts.size(); i++) {
        Document doc = new Document();
        doc.add(new StringField("id", Integer.toString(i), Field.Store.YES));
        doc.add(new TextField("body", texts.get(i), Field.Store.NO));
        writer.addDocument(doc);
      }
      writer.commit();
    }
    double indexSeconds = (System.nanoTime() - started) / 1e9;
    System.out.println("chars " + chars);
    System.out.println("tokens " + tokens);
    System.out.println("analysis_s " + analysisSeconds);
    System.out.println("index_s " + indexSeconds);
  }
}
