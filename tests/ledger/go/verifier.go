// An independent verifier of robopass's C2SP endpoints, built only on Go's
// golang.org/x/mod/sumdb/note and sumdb/tlog (Debian golang-golang-x-mod-dev).
//
// Usage: verifier BASE_URL VKEY INDEX...
// Fetches BASE_URL/api/v1/ledger/checkpoint, opens it with note.Open under VKEY, parses the
// checkpoint, and for each INDEX proves inclusion of entry INDEX from the tiles (tlog's
// TileHashReader checks every tile it reads against the checkpoint's root), checks the entry
// from its bundle hashes to the proved leaf, and prints one line per step.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var base string
var reads int

func get(path string) []byte {
	resp, err := http.Get(base + path)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		fail("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
	os.Exit(1)
}

type tiles struct{}

func (tiles) Height() int { return 8 }

func (tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		reads++
		out[i] = get("/api/v1/ledger/" + strings.Replace(t.Path(), "tile/8/", "tile/", 1))
	}
	return out, nil
}

func (tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func main() {
	base = strings.TrimRight(os.Args[1], "/")
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("vkey: %v", err)
	}
	msg := get("/api/v1/ledger/checkpoint")
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != verifier.Name() {
		fail("checkpoint origin %q is not %q", lines[0], verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != 32 {
		fail("root: %v", err)
	}
	var root tlog.Hash
	copy(root[:], rootBytes)
	fmt.Printf("checkpoint %s %d %s sigs=%d unverified=%d\n", lines[0], size, lines[2],
		len(n.Sigs), len(n.UnverifiedSigs))
	reader := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tiles{})
	for _, arg := range os.Args[3:] {
		index, _ := strconv.ParseInt(arg, 10, 64)
		reads = 0
		proof, err := tlog.ProveRecord(size, index, reader)
		if err != nil {
			fail("ProveRecord %d: %v", index, err)
		}
		hashes, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
		if err != nil {
			fail("leaf hash %d: %v", index, err)
		}
		if err := tlog.CheckRecord(proof, size, root, index, hashes[0]); err != nil {
			fail("CheckRecord %d: %v", index, err)
		}
		tile := tlog.TileForIndex(8, tlog.StoredHashIndex(0, index))
		tile.L = -1
		bundle := get("/api/v1/ledger/" + strings.Replace(tile.Path(), "tile/8/data/", "tile/entries/", 1))
		entry := entryAt(bundle, int(index%256))
		if tlog.RecordHash(entry) != hashes[0] {
			fail("entry %d does not hash to its leaf", index)
		}
		fmt.Printf("included %d %s\n", index, entry)
	}
}

func entryAt(bundle []byte, k int) []byte {
	for i := 0; ; i++ {
		if len(bundle) < 2 {
			fail("bundle too short")
		}
		n := int(binary.BigEndian.Uint16(bundle))
		if i == k {
			return bundle[2 : 2+n]
		}
		bundle = bundle[2+n:]
	}
}
