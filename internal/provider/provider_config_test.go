package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// Without data_dir the provider uses AEP_DATA_DIR. The test sets the environment of the whole
// process, so it does not run in parallel.
func TestAccProvider_dataDirFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envDataDir, dir)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
resource "experienceplatform_dataset" "test" {
  name       = "In the env dir"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}`,
			Check: func(s *terraform.State) error {
				e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: dir})
				if err != nil {
					return err
				}
				defer e.Close()
				id := s.RootModule().Resources[datasetAddr].Primary.ID
				if _, err := e.GetDataset(context.Background(), id); err != nil {
					return fmt.Errorf("the dataset is not in %s=%s: %w", envDataDir, dir, err)
				}
				return nil
			},
		}},
	})
}

func TestAccProvider_unusableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "experienceplatform" {
  data_dir = "` + file + `"
}

data "experienceplatform_dataset" "test" {
  id = "000000000000000000000000"
}`,
			ExpectError: errorPattern("Cannot open the embedded engine", "not-a-directory", "Check that the directory is writable"),
		}},
	})
}
