# One aws provider per region for the regional modules (meridian-dns and
# meridian-region each manage one region). The default provider serves what
# is global or spans regions: Route 53, IAM, and the etcd cluster, whose
# members set their own region (AWS provider 6).

provider "aws" {
  region = "us-east-1"
}

provider "aws" {
  alias  = "eu_west_1"
  region = "eu-west-1"
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

provider "aws" {
  alias  = "ap_southeast_1"
  region = "ap-southeast-1"
}
