package sqlstore

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The vocabulary (text_vocab in text.db) lists every indexed word once,
// with a trigram index over the words, to find those that contain a search
// string without reading the whole text index. The indexer adds the words
// of the bodies it indexes; most are known already, so it remembers the
// recent ones and skips them.

// vocabRecent bounds the words the writer remembers as known.
const vocabRecent = 200000

type vocabulary struct {
	known map[string]struct{}
}

// add records the words of the rows not known to be recorded, in two
// statements: the new words into text_vocab, then their trigrams.
func (v *vocabulary) add(ctx context.Context, tx execer, rows []ftsRow) error {
	if v.known == nil || len(v.known) > vocabRecent {
		v.known = make(map[string]struct{}, 4096)
	}
	var fresh []string
	for _, r := range rows {
		for _, list := range []string{r.terms.body, r.terms.headers} {
			for w := range strings.SplitSeq(list, " ") {
				if _, ok := v.known[w]; !ok && w != "" {
					v.known[w] = struct{}{}
					fresh = append(fresh, w)
				}
			}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	words, err := json.Marshal(fresh)
	if err != nil {
		return err
	}
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM text_vocab`).Scan(&last); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO text_vocab (term) SELECT value FROM json_each(?) WHERE true
		ON CONFLICT DO NOTHING`, string(words)); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO text_vocab_tri (rowid, term) SELECT id, term FROM text_vocab WHERE id > ?`, last)
	return err
}

// vocabQuery is the SQL and arguments that list the words containing w (a
// run of letters and digits): through the trigrams when w has three
// characters or more, else by scanning the vocabulary.
func vocabQuery(w string, limit int) (string, []any) {
	if utf8.RuneCountInString(w) < 3 {
		return `SELECT term FROM text_vocab WHERE instr(term, ?1) > 0 LIMIT ?2`, []any{w, limit}
	}
	var grams []string
	for i := 0; i < len(w); {
		_, n0 := utf8.DecodeRuneInString(w[i:])
		j := i + n0
		k := 0
		for ; k < 2 && j < len(w); k++ {
			_, n := utf8.DecodeRuneInString(w[j:])
			j += n
		}
		if k < 2 {
			break
		}
		grams = append(grams, `"`+w[i:j]+`"`)
		i += n0
	}
	return `SELECT v.term FROM text_vocab v WHERE v.id IN (SELECT rowid FROM text_vocab_tri WHERE text_vocab_tri MATCH ?3)
		AND instr(v.term, ?1) > 0 LIMIT ?2`, []any{w, limit, strings.Join(grams, " AND ")}
}
