package aepserver

import (
	"os"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire/contracttest"
)

func TestMain(m *testing.M) {
	os.Exit(contracttest.Main(m))
}
