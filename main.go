// Command terraform-provider-experienceplatform is the Terraform provider for Adobe Experience
// Platform export datasets and export jobs.
package main

import (
	"flag"
	"log"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
	_ "github.com/aepkit/terraform-provider-experienceplatform/internal/plugintls" // its init, before go-plugin's key
	"github.com/aepkit/terraform-provider-experienceplatform/internal/provcalls"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/provider"
)

// version is set by the release build (goreleaser passes -ldflags "-X main.version=...").
var version = "dev"

func main() {
	// The provider starts itself again as the embedded engine's worker, which runs export jobs
	// in the background (see exportengine.SpawnWorker).
	if os.Getenv(exportengine.WorkerEnv) != "" {
		exportengine.LimitMemory() // a process that runs export jobs
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

	// What providerserver.Serve does, with the calls timed when provcalls.Env asks for it.
	calls := newCallLog(os.Getenv(provcalls.Env), time.Now)
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	err := tf6server.Serve("registry.terraform.io/aepkit/experienceplatform", func() tfprotov6.ProviderServer {
		return calls.wrap(providerserver.NewProtocol6(provider.New(version)())())
	}, opts...)
	calls.write()
	if err != nil {
		log.Fatal(err.Error())
	}
}
