package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The handshake of terraform-plugin-go's server (go-plugin): the magic cookie tells the provider
// that Terraform started it, and PLUGIN_CLIENT_CERT makes it set up mutual TLS, as Terraform
// asks every provider it starts to do.
const (
	pluginCookieKey   = "TF_PLUGIN_MAGIC_COOKIE"
	pluginCookieValue = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
)

// startSample is one start of the provider: the time from exec until it printed its handshake
// line (its gRPC address: from then on Terraform can call it), and the CPU it used to get there.
type startSample struct {
	wall, cpu time.Duration
}

// providerStarts starts the provider n times as Terraform does and stops each as soon as it has
// handed over its address. Without mTLS, the provider skips the certificate it makes for
// Terraform: that part is go-plugin's.
func providerStarts(ctx context.Context, provider string, n int, mtls bool) ([]startSample, error) {
	provider, err := filepath.Abs(provider)
	if err != nil {
		return nil, err
	}
	cert, err := clientCertPEM()
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), pluginCookieKey+"="+pluginCookieValue, "PLUGIN_PROTOCOL_VERSIONS=6", "TF_LOG=", "TF_LOG_PROVIDER=")
	if mtls {
		env = append(env, "PLUGIN_CLIENT_CERT="+cert)
	}
	var out []startSample
	for range n {
		s, err := providerStart(ctx, provider, env)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func providerStart(ctx context.Context, provider string, env []string) (startSample, error) {
	cmd := exec.CommandContext(ctx, provider)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return startSample{}, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return startSample{}, err
	}
	line, readErr := bufio.NewReader(stdout).ReadString('\n')
	wall := time.Since(start)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if readErr != nil {
		return startSample{}, fmt.Errorf("provider %s did not hand over its address: %w: %s", provider, readErr, stderr.String())
	}
	if !strings.HasPrefix(line, "1|6|") {
		return startSample{}, fmt.Errorf("provider %s handed over %q, not a protocol 6 address: %s", provider, line, stderr.String())
	}
	ps := cmd.ProcessState
	return startSample{wall: wall, cpu: ps.UserTime() + ps.SystemTime()}, nil
}

// clientCertPEM is a self-signed certificate such as Terraform passes to the providers it starts.
func clientCertPEM() (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"aepbench"}},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// startLine summarises samples: the median wall and CPU time, and the fastest start; it returns
// the median wall time beside the line.
func startLine(what string, samples []startSample) (string, time.Duration, error) {
	if len(samples) == 0 {
		return "", 0, errors.New("no samples")
	}
	walls := make([]time.Duration, len(samples))
	cpus := make([]time.Duration, len(samples))
	for i, s := range samples {
		walls[i], cpus[i] = s.wall, s.cpu
	}
	fastest := walls[0]
	for _, w := range walls {
		fastest = min(fastest, w)
	}
	wall := median(walls)
	return fmt.Sprintf("%s: %.1f ms wall (fastest %.1f), %.1f ms CPU (medians of %d)", what,
		ms(wall), ms(fastest), ms(median(cpus)), len(samples)), wall, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startLines measures the provider's start, with mTLS as Terraform asks for it and without, and
// with -empty-provider the start of a provider with nothing in it. Beside the lines it returns
// the median wall times of a start with mTLS: the provider's, and the empty provider's (zero
// without one).
func startLines(ctx context.Context, opts driverOptions) (lines []string, start, empty time.Duration, err error) {
	if opts.provider == "" {
		return nil, 0, 0, errors.New("measuring the provider's start needs -provider")
	}
	runs := []struct {
		provider, what string
		mtls           bool
		wall           *time.Duration
	}{
		{opts.provider, "provider start, exec to handshake, as Terraform starts it (mTLS)", true, &start},
		{opts.provider, "provider start, exec to handshake, without mTLS", false, nil},
		{opts.emptyProvider, "the same of a provider with nothing in it, on the same libraries (mTLS)", true, &empty},
	}
	for _, r := range runs {
		if r.provider == "" {
			continue
		}
		samples, err := providerStarts(ctx, r.provider, opts.starts, r.mtls)
		if err != nil {
			return nil, 0, 0, err
		}
		line, wall, err := startLine(r.what, samples)
		if err != nil {
			return nil, 0, 0, err
		}
		if r.wall != nil {
			*r.wall = wall
		}
		lines = append(lines, line)
	}
	return lines, start, empty, nil
}
