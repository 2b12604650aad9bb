// An independent verifier of the registry's witnessed checkpoints and tiles,
// built only on golang.org/x/mod/sumdb/note and sumdb/tlog (Debian's
// golang-golang-x-mod-dev) and the Go standard library.
//
// usage: go run verify.go <dir> <quorum> <log verifier key> [<witness key>...]
//
// <dir>/checkpoint is the cosigned note; <dir>/tile/... are C2SP tiles as the
// registry serves them. Exit 0 prints "ok <size> <root>"; anything else fails.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// cosigner checks c2sp.org/tlog-cosignature Ed25519 cosignature/v1 lines.
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (c cosigner) Name() string    { return c.name }
func (c cosigner) KeyHash() uint32 { return c.hash }
func (c cosigner) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
	return ed25519.Verify(c.key, signed, sig[8:])
}

func newCosigner(vkey string) cosigner {
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		fail("bad witness key %q", vkey)
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	c := cosigner{parts[0], binary.BigEndian.Uint32(h[:4]), ed25519.PublicKey(raw[1:])}
	if fmt.Sprintf("%08x", c.hash) != parts[1] {
		fail("witness key id mismatch for %q", vkey)
	}
	return c
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// c2spPath is the tlog-tiles path of a sumdb tile (height 8).
func c2spPath(t tlog.Tile) string {
	n := fmt.Sprintf("%03d", t.N%1000)
	for rest := t.N / 1000; rest > 0; rest /= 1000 {
		n = fmt.Sprintf("x%03d/", rest%1000) + n
	}
	p := fmt.Sprintf("tile/%d/%s", t.L, n)
	if t.W < 256 {
		p += fmt.Sprintf(".p/%d", t.W)
	}
	return p
}

// readTile reads the tile, or a wider one of the same coordinates cut to width:
// a tile's first W hashes are the same whatever its width.
func readTile(dir string, t tlog.Tile) ([]byte, error) {
	for w := t.W; w <= 256; w++ {
		wider := t
		wider.W = w
		data, err := os.ReadFile(filepath.Join(dir, c2spPath(wider)))
		if err == nil {
			return data[:t.W*tlog.HashSize], nil
		}
	}
	return nil, fmt.Errorf("no tile %s", c2spPath(t))
}

func main() {
	dir := os.Args[1]
	quorum, _ := strconv.Atoi(os.Args[2])
	logV, err := note.NewVerifier(os.Args[3])
	if err != nil {
		fail("log key: %v", err)
	}
	verifiers := []note.Verifier{logV}
	for _, k := range os.Args[4:] {
		verifiers = append(verifiers, newCosigner(k))
	}
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		fail("%v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		fail("note: %v", err)
	}
	logSigned, cosigned := false, 0
	for _, s := range n.Sigs {
		if s.Name == logV.Name() && s.Hash == logV.KeyHash() {
			logSigned = true
		} else {
			cosigned++
		}
	}
	if !logSigned || cosigned < quorum {
		fail("log signature %v, %d cosignatures, quorum %d", logSigned, cosigned, quorum)
	}
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		fail("root: %v", err)
	}
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, index := range indexes {
			tile := tlog.TileForIndex(8, index)
			data, err := readTile(dir, tile)
			if err != nil {
				return nil, err
			}
			if out[i], err = tlog.HashFromTile(tile, data, index); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	computed, err := tlog.TreeHash(size, reader)
	if err != nil {
		fail("tree hash: %v", err)
	}
	if string(computed[:]) != string(root) {
		fail("the root from the tiles is %x, the checkpoint says %x", computed[:], root)
	}
	fmt.Printf("ok %d %x\n", size, root)
}
