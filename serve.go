package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// serveFlags configure `terraform-provider-experienceplatform -serve ADDR`: the embedded engine
// of a data directory served over the AEP REST API, for remote mode.
type serveFlags struct {
	addr         string
	dataDir      string
	orgID        string
	clientID     string
	clientSecret string
	clientsFile  string
	sandboxes    string

	tlsCert, tlsKey string
	insecureListen  bool
	publicURL       string

	maxFileSize   byteSize
	maxBatchSize  byteSize
	maxBatchFiles int
	maxConns      int
	maxConnsAddr  int
	diskReserve   byteSize
	quotas        exportengine.Quotas
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "serve", "", "serve the embedded engine over the AEP REST API at this address (such as 127.0.0.1:8080) "+
		"instead of running as a Terraform provider")
	fs.StringVar(&f.dataDir, "data-dir", envOr("AEP_DATA_DIR", ".aep"), "with -serve: the engine's data directory (AEP_DATA_DIR)")
	fs.StringVar(&f.orgID, "org-id", envOr("AEP_ORG_ID", "embedded@AdobeOrg"), "with -serve: the organisation requests must name (AEP_ORG_ID)")
	fs.StringVar(&f.clientID, "client-id", os.Getenv("AEP_CLIENT_ID"), "with -serve: the OAuth client that may obtain tokens (AEP_CLIENT_ID)")
	fs.StringVar(&f.clientsFile, "clients", os.Getenv("AEP_CLIENTS_FILE"), "with -serve: a JSON file of further OAuth clients, "+
		`each with the sandboxes its tokens may name: [{"client_id": "...", "client_secret": "...", "sandboxes": ["dev"]}] `+
		"(AEP_CLIENTS_FILE); readable by its owner alone")
	fs.StringVar(&f.sandboxes, "sandboxes", envOr("AEP_SANDBOX_NAME", "prod"), "with -serve: comma-separated sandbox names requests may "+
		"name, each with objects of its own; the first is the default sandbox, of requests without x-sandbox-name and of a data "+
		"directory written before sandboxes")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "with -serve: serve HTTPS with this certificate (PEM; with -tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "with -serve: the private key of -tls-cert (PEM)")
	fs.BoolVar(&f.insecureListen, "insecure-listen", false, "with -serve: allow plain HTTP on an address other than loopback, "+
		"where tokens and data cross the network unencrypted (only for a network you trust)")
	fs.StringVar(&f.publicURL, "public-url", "", "with -serve: the URL clients reach the server at (such as https://aep.example.com), "+
		"used in the links of answers; default the scheme and address each connection came in on")
	f.maxFileSize = aepserver.DefaultFile
	f.maxBatchSize = aepserver.DefaultBatch
	fs.Var(&f.maxFileSize, "max-file-size", "with -serve: the largest file one upload may send (such as 256MiB)")
	fs.Var(&f.maxBatchSize, "max-batch-size", "with -serve: the most bytes a batch's files may hold together (such as 10GiB)")
	fs.IntVar(&f.maxBatchFiles, "max-batch-files", aepserver.DefaultBatchFiles, "with -serve: the most files a batch may hold")
	f.diskReserve = defaultDiskReserve
	fs.Var(&f.diskReserve, "disk-reserve", "with -serve: the room uploads and new export jobs leave free on the data directory's "+
		"disk, for its database and the work under way (such as 1GiB); with less free they are refused (507)")
	fs.IntVar(&f.maxConns, "max-conns", aepserver.DefaultConns, "with -serve: the most connections served at once; past it, "+
		"the connection that has waited longest on its client (idle, or not yet through its headers) is closed")
	fs.IntVar(&f.maxConnsAddr, "max-conns-per-addr", 0, "with -serve: the most connections served at once from one client "+
		"address (an IPv6 /64 counting as one); default a quarter of -max-conns; behind a proxy, set it to -max-conns")
	fs.IntVar(&f.quotas.Datasets, "max-datasets", defaultQuotas.Datasets, "with -serve: the most datasets a sandbox holds; 0 for no limit")
	fs.IntVar(&f.quotas.LoadingBatches, "max-loading-batches", defaultQuotas.LoadingBatches, "with -serve: the most batches a "+
		"sandbox has open: loading (created, not yet completed or aborted) or being ingested; 0 for no limit")
	fs.IntVar(&f.quotas.PendingJobs, "max-pending-jobs", defaultQuotas.PendingJobs, "with -serve: the most export jobs a "+
		"sandbox has waiting or running; past it a new job is a 429; 0 for no limit")
	fs.IntVar(&f.quotas.PolicyVersions, "merge-policy-versions", defaultQuotas.PolicyVersions, "with -serve: how many versions "+
		"of a merge policy are kept (with those a waiting or running job names); 0 keeps all")
}

// defaultDiskReserve is -disk-reserve's default.
const defaultDiskReserve = 1 << 30

// defaultQuotas are the per-sandbox quotas' defaults: far above what one team's configuration
// holds, and small enough that one sandbox's client cannot fill the server's database.
var defaultQuotas = exportengine.Quotas{Datasets: 10_000, LoadingBatches: 1_000, PendingJobs: 100, PolicyVersions: 100}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// byteSize is a flag of a size in bytes, such as 1048576, 512KiB, 256MiB or 10GiB.
type byteSize int64

var sizeUnits = []struct {
	suffix string
	size   int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

func (b *byteSize) Set(s string) error {
	num, unit := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, unit = strings.TrimSpace(rest), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/unit {
		return fmt.Errorf("%q is not a size: write a positive number of bytes, or one with KiB, MiB, GiB or TiB, such as 256MiB", s)
	}
	*b = byteSize(n * unit)
	return nil
}

func (b *byteSize) String() string {
	for _, u := range sizeUnits {
		if int64(*b) >= u.size && int64(*b)%u.size == 0 {
			return strconv.FormatInt(int64(*b)/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}

// serve runs the server until SIGINT or SIGTERM. The client secret comes only from the
// environment (AEP_CLIENT_SECRET), so that it does not show in process listings.
func serve(f serveFlags) error {
	f.clientSecret = os.Getenv("AEP_CLIENT_SECRET")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exportengine.LimitMemory() // the server runs export jobs in its own process
	return runServer(ctx, f, log.New(os.Stderr, "", log.LstdFlags), nil)
}

// runServer serves until ctx is done; ready, when set, hears the address it listens on.
func runServer(ctx context.Context, f serveFlags, logger *log.Logger, ready func(addr string)) error {
	tlsConfig, err := f.check()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	scheme := "https"
	if tlsConfig == nil {
		scheme = "http"
		if !isLoopback(ln.Addr()) {
			if !f.insecureListen {
				return fmt.Errorf("-serve %s listens beyond this machine (%s) over plain HTTP, where tokens and data would cross "+
					"the network unencrypted: give -tls-cert and -tls-key, listen on a loopback address such as 127.0.0.1:8080, "+
					"or pass -insecure-listen for a network you trust", f.addr, ln.Addr())
			}
			logger.Printf("WARNING: serving plain HTTP on %s, beyond this machine (-insecure-listen): tokens and data cross the "+
				"network unencrypted", ln.Addr())
		}
	}
	endpoint := f.publicURL
	if endpoint == "" {
		endpoint = scheme + "://" + ln.Addr().String()
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
			logger.Printf("WARNING: links in answers name the address each connection came in on; set -public-url to the " +
				"address clients use")
		}
	}

	sandboxes := f.sandboxList()
	creds, err := f.credentials()
	if err != nil {
		return err
	}
	// The engine holds batches to their limits too, counting what they hold on disk, across
	// restarts and among uploads running at once.
	engine, err := exportengine.Open(ctx, exportengine.Options{DataDir: f.dataDir, RunJobs: true, ImsOrg: f.orgID, Sandbox: sandboxes[0],
		MaxBatchBytes: int64(f.maxBatchSize), MaxBatchFiles: f.maxBatchFiles, DiskReserve: int64(f.diskReserve), Quotas: f.quotas, Log: logger.Printf})
	if err != nil {
		return err
	}
	defer engine.Close()
	// Batches that clients created and left loading are ended as they go stale, as Open ends them.
	engine.KeepTidy()
	// Batches accepted before the server last stopped, and not ingested then, are ingested now:
	// their clients are waiting for them to end.
	if n, err := engine.ResumeBatches(ctx); err != nil {
		return fmt.Errorf("resuming the batches left processing: %w", err)
	} else if n > 0 {
		logger.Printf("resuming the completion of the batches left processing: %d", n)
	}
	handler := aepserver.New(engine, aepserver.Options{
		Credentials: creds,
		OrgID:       f.orgID,
		Sandboxes:   sandboxes,
		Log:         logger.Printf,
		PublicURL:   f.publicURL,
		Limits: aepserver.Limits{File: int64(f.maxFileSize), Batch: int64(f.maxBatchSize), BatchFiles: f.maxBatchFiles,
			Conns: f.maxConns, ConnsPerAddr: f.maxConnsAddr},
	})
	logger.Printf("serving %s at %s://%s (organisation %s); endpoint = ims_endpoint = %q", engine.DataDir(), scheme, ln.Addr(),
		f.orgID, endpoint)
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := handler.Serve(ctx, ln, tlsConfig); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// check refuses flags that do not go together, and loads the TLS certificate.
func (f serveFlags) check() (*tls.Config, error) {
	if (f.clientID == "" || f.clientSecret == "") && f.clientsFile == "" {
		return nil, errors.New("-serve needs a client: set -client-id (or AEP_CLIENT_ID) and AEP_CLIENT_SECRET, or -clients " +
			"(or AEP_CLIENTS_FILE)")
	}
	if f.clientID != "" && f.clientSecret == "" {
		return nil, errors.New("-client-id needs its secret in AEP_CLIENT_SECRET")
	}
	if f.clientID != "" {
		if err := checkClientID(f.clientID); err != nil {
			return nil, fmt.Errorf("-client-id: %w", err)
		}
	}
	if f.publicURL != "" {
		u, err := url.Parse(f.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("-public-url %q is not a base URL: give the scheme and host clients reach the server at, "+
				"such as https://aep.example.com:8443", f.publicURL)
		}
	}
	for _, n := range []struct {
		name  string
		value int
	}{{"-max-batch-files", f.maxBatchFiles}, {"-max-conns", f.maxConns}} {
		if n.value < 1 {
			return nil, fmt.Errorf("%s must be at least 1", n.name)
		}
	}
	if f.maxConnsAddr < 0 {
		return nil, errors.New("-max-conns-per-addr must be at least 1, or 0 for a quarter of -max-conns")
	}
	for _, n := range []struct {
		name  string
		value int
	}{{"-max-datasets", f.quotas.Datasets}, {"-max-loading-batches", f.quotas.LoadingBatches},
		{"-max-pending-jobs", f.quotas.PendingJobs}, {"-merge-policy-versions", f.quotas.PolicyVersions}} {
		if n.value < 0 {
			return nil, fmt.Errorf("%s must be at least 1, or 0 for no limit", n.name)
		}
	}
	if len(f.sandboxList()) == 0 {
		return nil, errors.New("-sandboxes names no sandbox: give at least one, such as prod")
	}
	for _, name := range f.sandboxList() {
		if err := exportengine.CheckSandboxName(name); err != nil {
			return nil, fmt.Errorf("-sandboxes: %w", err)
		}
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("-tls-cert and -tls-key go together: give both, or neither")
	}
	if f.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("loading -tls-cert and -tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// checkClientID refuses a client id that no request could name: x-api-key's value has no
// control characters, and no blanks at either end.
func checkClientID(id string) error {
	if strings.TrimSpace(id) != id || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return fmt.Errorf("client_id %q has blanks at an end or control characters, which no request's x-api-key can hold: "+
			"use letters, digits and punctuation", id)
	}
	return nil
}

// maxClientsFile bounds what -clients may hold: a few hundred bytes a client.
const maxClientsFile = 1 << 20

// clientEntry is a client of -clients.
type clientEntry struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Sandboxes    []string `json:"sandboxes"`
}

// credentials are the clients that may obtain tokens: -client-id's, which may name every
// sandbox, and those of -clients, each granted the sandboxes it names. The file holds secrets:
// one that others may read is refused, as ssh refuses a key.
func (f serveFlags) credentials() ([]aepserver.Credential, error) {
	var creds []aepserver.Credential
	if f.clientID != "" {
		creds = append(creds, aepserver.Credential{ClientID: f.clientID, ClientSecret: f.clientSecret})
	}
	if f.clientsFile == "" {
		return creds, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("-clients %s: "+format, append([]any{f.clientsFile}, args...)...)
	}
	file, err := os.Open(f.clientsFile)
	if err != nil {
		return nil, fmt.Errorf("-clients: %w", err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("-clients: %w", err)
	}
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, bad("others may read it (mode %04o), and it holds secrets: chmod 600 %s", perm, f.clientsFile)
	}
	if info.Size() > maxClientsFile {
		return nil, bad("it holds %d bytes, more than the %s a list of clients may hold", info.Size(), aepwire.FormatBytes(maxClientsFile))
	}
	const example = `[{"client_id": "team", "client_secret": "...", "sandboxes": ["dev"]}]`
	dec := json.NewDecoder(io.LimitReader(file, maxClientsFile))
	dec.DisallowUnknownFields()
	var entries []clientEntry
	if err := dec.Decode(&entries); err != nil {
		return nil, bad("is not a JSON list of clients such as %s: %v", example, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("holds more after its list of clients: give one list, such as %s", example)
	}
	seen := map[string]bool{f.clientID: f.clientID != ""}
	served := f.sandboxList()
	for i, e := range entries {
		switch {
		case e.ClientID == "" || e.ClientSecret == "":
			return nil, bad("client %d has no client_id or no client_secret", i+1)
		case seen[e.ClientID]:
			return nil, bad("client_id %q is given twice", e.ClientID)
		case len(e.Sandboxes) == 0:
			return nil, bad("client %q names no sandboxes: list those its tokens may name, such as \"sandboxes\": [\"dev\"]", e.ClientID)
		}
		if err := checkClientID(e.ClientID); err != nil {
			return nil, bad("%v", err)
		}
		seen[e.ClientID] = true
		for _, sb := range e.Sandboxes {
			if !slices.Contains(served, sb) {
				return nil, bad("client %q names sandbox %q, which -sandboxes does not serve (%s)", e.ClientID, sb, strings.Join(served, ","))
			}
		}
		creds = append(creds, aepserver.Credential{ClientID: e.ClientID, ClientSecret: e.ClientSecret, Sandboxes: e.Sandboxes})
	}
	if len(creds) == 0 {
		return nil, bad("names no client")
	}
	return creds, nil
}

// sandboxList is -sandboxes as a list, without blanks.
func (f serveFlags) sandboxList() []string {
	var out []string
	for _, name := range strings.Split(f.sandboxes, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// isLoopback reports whether a listener's address is reachable only from this machine.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
