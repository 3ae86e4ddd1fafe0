terraform {
  # 1.9: validation conditions that refer to other variables.
  required_version = "~> 1.9"

  required_providers {
    # 6.0: the per-resource region argument, which places each member in
    # its own AWS region with one provider configuration.
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }
}
