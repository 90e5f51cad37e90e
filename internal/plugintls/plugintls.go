// Package plugintls builds the P-521 curve's precomputed tables on another core while the
// process's packages are still initialising, when Terraform asks the provider for automatic
// mutual TLS.
//
// Terraform starts the provider four times an apply, and each start waits for go-plugin to make a
// P-521 key and sign a certificate with it before it can answer the handshake. Go builds the
// curve's table of multiples of its generator the first time it is used: about 10 ms of one core.
// The libraries' package initialisation, which comes before go-plugin runs, takes longer than
// that on the first core. Building the table beside it takes the wait out of the start.
//
// Importing the package does it; it has nothing to call. Go initialises a package as soon as its
// dependencies are (in import path order among those ready), and this one depends on the
// standard library alone, so its init runs before the libraries' own.
package plugintls

import (
	"crypto/ecdh"
	"os"
)

// ClientCertEnv is where Terraform passes its certificate to a plugin it wants mutual TLS with
// (go-plugin's automatic mTLS): without it, go-plugin makes no key.
const ClientCertEnv = "PLUGIN_CLIENT_CERT"

func init() {
	if os.Getenv(ClientCertEnv) == "" {
		return
	}
	go func() { _ = warm() }()
}

// warm multiplies the curve's generator, as making go-plugin's key does, and drops the result:
// what stays is the table. The scalar is 1, so that nothing here needs randomness (crypto/rand
// would wait for math/big and fmt to be initialised first).
func warm() error {
	one := make([]byte, p521ScalarSize)
	one[len(one)-1] = 1
	_, err := ecdh.P521().NewPrivateKey(one)
	return err
}

// p521ScalarSize is the size of a P-521 private key: 521 bits, in whole bytes.
const p521ScalarSize = 66
