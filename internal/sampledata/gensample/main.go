// Command gensample writes the sample XDM data: the quick start's files, or data of any size for
// benchmarks. The same flags always write the same bytes.
//
//	go run ./internal/sampledata/gensample -out DIR [-seed N] [-people N] [-events-per-person F] [-resent F]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

func main() {
	var opts sampledata.Options
	out := flag.String("out", "", "directory to write "+sampledata.CRMFile+", "+sampledata.LoyaltyFile+" and "+sampledata.EventsFile+" into")
	flag.Uint64Var(&opts.Seed, "seed", sampledata.QuickstartOptions.Seed, "seed of the data")
	flag.IntVar(&opts.People, "people", sampledata.QuickstartOptions.People, "number of people")
	flag.Float64Var(&opts.EventsPerPerson, "events-per-person", sampledata.QuickstartOptions.EventsPerPerson, "mean number of web events a person")
	flag.Float64Var(&opts.ResentEvents, "resent", sampledata.QuickstartOptions.ResentEvents, "share of events sent again later with the same _id")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gensample: -out is required")
		flag.Usage()
		os.Exit(2)
	}
	c, err := sampledata.Generate(*out, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gensample:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d CRM records, %d loyalty records and %d events (%d bytes) to %s\n",
		c.CRM, c.Loyalty, c.Events, c.Bytes, *out)
}
