package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
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
	sandboxes    string
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "serve", "", "serve the embedded engine over the AEP REST API at this address (such as 127.0.0.1:8080) "+
		"instead of running as a Terraform provider")
	fs.StringVar(&f.dataDir, "data-dir", envOr("AEP_DATA_DIR", ".aep"), "with -serve: the engine's data directory (AEP_DATA_DIR)")
	fs.StringVar(&f.orgID, "org-id", envOr("AEP_ORG_ID", "embedded@AdobeOrg"), "with -serve: the organisation requests must name (AEP_ORG_ID)")
	fs.StringVar(&f.clientID, "client-id", os.Getenv("AEP_CLIENT_ID"), "with -serve: the OAuth client that may obtain tokens (AEP_CLIENT_ID)")
	fs.StringVar(&f.sandboxes, "sandboxes", envOr("AEP_SANDBOX_NAME", "prod"), "with -serve: comma-separated sandbox names requests may name")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// serve runs the server until SIGINT or SIGTERM. The client secret comes only from the
// environment (AEP_CLIENT_SECRET), so that it does not show in process listings.
func serve(f serveFlags) error {
	f.clientSecret = os.Getenv("AEP_CLIENT_SECRET")
	if f.clientID == "" || f.clientSecret == "" {
		return errors.New("-serve needs a client: set -client-id (or AEP_CLIENT_ID) and AEP_CLIENT_SECRET")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	limitMemory() // the server runs export jobs in its own process
	engine, err := exportengine.Open(ctx, exportengine.Options{DataDir: f.dataDir, RunJobs: true, ImsOrg: f.orgID})
	if err != nil {
		return err
	}
	defer engine.Close()
	logger := log.New(os.Stderr, "", log.LstdFlags)
	handler := aepserver.New(engine, aepserver.Options{
		Credentials: []aepserver.Credential{{ClientID: f.clientID, ClientSecret: f.clientSecret}},
		OrgID:       f.orgID,
		Sandboxes:   strings.Split(f.sandboxes, ","),
		Log:         logger.Printf,
	})
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("serving %s at http://%s (organisation %s); endpoint = ims_endpoint = \"http://%s\"",
		engine.DataDir(), ln.Addr(), f.orgID, ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
