package aepserver

import (
	"fmt"
	"os"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire/contracttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	fmt.Println(contracttest.Summary())
	os.Exit(code)
}
