// Command terraform-provider-experienceplatform is the Terraform provider for Adobe Experience
// Platform export datasets and export jobs.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"runtime/debug"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/provider"
)

// version is set by the release build (goreleaser passes -ldflags "-X main.version=...").
var version = "dev"

func main() {
	// The provider starts itself again as the embedded engine's worker, which runs export jobs
	// in the background (see exportengine.SpawnWorker).
	if os.Getenv(exportengine.WorkerEnv) != "" {
		limitMemory()
		stop := startProfile("worker")
		code := exportengine.WorkerMain(exportengine.Options{})
		stop()
		os.Exit(code)
	}

	var debug bool
	var server serveFlags
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	server.register(flag.CommandLine)
	flag.Parse()

	if server.addr != "" {
		if err := serve(server); err != nil {
			log.Fatal(err)
		}
		return
	}
	defer startProfile("provider")()
	if !debug {
		for _, name := range quietLogs(os.LookupEnv) {
			_ = os.Setenv(name, "OFF")
		}
	}

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/aepkit/experienceplatform",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}

// limitMemory gives a process that runs export jobs (the engine's worker, the server) the engine's
// soft memory limit, unless GOMEMLIMIT sets one.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(exportengine.MemoryLimit)
	}
}
