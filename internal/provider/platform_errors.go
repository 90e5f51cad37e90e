package provider

import "github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"

// createDetail explains a create that failed, as what it was: a refusal by the platform (what
// refused and todo say), a call that never reached the platform (nothing was created), or one
// whose answer was lost after it may have acted.
func createDetail(refused, todo string, err error) string {
	switch {
	case aepwire.NotReached(err):
		return errorDetail("The platform could not be reached, or answered only that it could not serve now, so nothing was created.",
			"Check the endpoint (and ims_endpoint) and the network, or wait for the platform, then apply again.", err)
	case aepwire.IsUnavailable(err):
		return errorDetail("The platform did not answer, and may have acted before its answer was lost.",
			"Check whether the object was created before applying again; if it was, import it rather than create another.", err)
	}
	return errorDetail(refused, todo, err)
}
