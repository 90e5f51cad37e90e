package plugintls

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

// The warm-up's scalar is a valid P-521 key: were it refused, the curve's table would not be built
// and the start would wait for it again, with nothing failing.
func TestWarmMultipliesTheGenerator(t *testing.T) {
	key, err := ecdh.P521().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(key.Bytes()); got != p521ScalarSize {
		t.Fatalf("a P-521 private key has %d bytes, the warm-up makes %d", got, p521ScalarSize)
	}
	if err := warm(); err != nil {
		t.Fatalf("warm: %v", err)
	}
}
