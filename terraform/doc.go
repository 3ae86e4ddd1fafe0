// Package terraform holds Meridian's Terraform modules and examples; it has
// no Go code of its own.
//
// terraform cannot be installed where Meridian is built and tested, so
// terraform_test.go stands in for `terraform validate`: it parses every .tf
// file and every .tftpl template with github.com/hashicorp/hcl/v2 and checks
// the structure the house style asks for (see README.md in this directory):
//
//   - each module under modules/ has main.tf, variables.tf, outputs.tf,
//     versions.tf and README.md, each example main.tf, versions.tf and
//     README.md;
//   - every variable has a description and a type (and its validation
//     conditions test it), every output a description, and each module's
//     README names every variable and output;
//   - versions.tf pins required_version and every required provider with ~>;
//   - module calls use local sources that exist, pass only declared
//     variables and every variable that has no default;
//   - references (var., local., module.<m>.<output>, resources, data
//     sources, provider aliases) resolve, resources belong to a required
//     provider, and templatefile calls name a template that exists and pass
//     every variable it uses;
//   - the shell templates, rendered with sample values, pass `sh -n`;
//   - every .tf file is laid out as `terraform fmt` would (hclwrite.Format).
//
// TestChecksCatchMistakes runs the same checks on small broken trees, so
// that each check is known to fire and what its message says.
package terraform
