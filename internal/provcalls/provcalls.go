// Package provcalls is the line each provider process appends, when Env names a file, about the
// calls Terraform made of it: the provider writes it (calls.go) and `make bench` reads it to split
// a Terraform command's overhead into the provider's calls, its starts and Terraform's own work.
package provcalls

// Env names the file to which every provider process that Terraform starts appends one JSON line
// as it exits.
const Env = "AEP_PROVIDER_CALLS_FILE"

// Stat is what a process spent on one kind of call.
type Stat struct {
	N  int     `json:"n"`
	Ms float64 `json:"ms"`
}

// Process is the line a process writes.
type Process struct {
	PID int `json:"pid"`
	// LivedMs is from the start of serving (just after the flags are read) to its end.
	LivedMs float64 `json:"lived_ms"`
	// BusyMs is the time at least one call was in progress: calls served side by side count once.
	BusyMs float64 `json:"busy_ms"`
	// Calls is by call name, and by resource type for the calls about one ("PlanResourceChange
	// experienceplatform_batch"); side-by-side calls each count their own time.
	Calls map[string]*Stat `json:"calls"`
}
