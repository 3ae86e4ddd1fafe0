# Meridian in three AWS regions: an etcd member, a DNS server and a proxy
# region in each of eu-west-1, us-east-1 and ap-southeast-1, and the zone
# delegated from a Route 53 parent zone. Order of construction (Terraform
# follows the references): etcd, then DNS, then the regions, then the
# delegation. The policy (zone, regions, pools, one service, three test
# networks) comes out as one file, policy_json, for `meridian policy apply`.

locals {
  # Meridian region => where it runs and where it is. The locations and
  # countries are those of the demo policy (deploy/demo/policy.json).
  sites = {
    "eu-west"      = { aws_region = "eu-west-1", location = { lat = 53.35, lon = -6.26 }, country = "IE", spillover = ["us-east"] }
    "us-east"      = { aws_region = "us-east-1", location = { lat = 38.9, lon = -77.04 }, country = "US", spillover = ["eu-west"] }
    "ap-southeast" = { aws_region = "ap-southeast-1", location = { lat = 1.29, lon = 103.85 }, country = "SG", spillover = ["eu-west"] }
  }

  pools = { for r, s in local.sites : r => {
    web = {
      hosts     = ["*"]
      backends  = [for b in var.backends[r] : { address = b }]
      check     = { kind = "http", path = "/healthz", interval = "2s", timeout = "1s", rise = 2, fall = 3 }
      spillover = s.spillover
    }
  } }

  etcd_dns   = module.etcd.client_certificates["meridian-dns"]
  etcd_proxy = module.etcd.client_certificates["meridian-proxy"]

  nameservers = concat(module.dns_eu_west.nameservers, module.dns_us_east.nameservers, module.dns_ap_southeast.nameservers)

  # A steered name, so that there is something to dig for. Services are
  # operator policy (docs/keyspace.md); Terraform does not manage them.
  services = {
    "services/www.${var.zone}." = {
      policy  = "geo"
      regions = ["eu-west", "us-east", "ap-southeast"]
      ttl     = "30s"
    }
  }

  # The documentation ranges placed on three continents, as in the demo, so
  # that `dig +subnet=...` in README.md has a known answer whatever the
  # GeoIP database says. Remove them in production.
  test_networks = {
    "geo/networks/doc-europe"  = { cidrs = ["192.0.2.0/24"], location = { lat = 48.85, lon = 2.35 }, country = "FR" }
    "geo/networks/doc-america" = { cidrs = ["198.51.100.0/24"], location = { lat = 40.71, lon = -74.0 }, country = "US" }
    "geo/networks/doc-asia"    = { cidrs = ["203.0.113.0/24"], location = { lat = 35.68, lon = 139.69 }, country = "JP" }
  }

  policy = merge(
    module.delegation.policy,
    module.region_eu_west.policy,
    module.region_us_east.policy,
    module.region_ap_southeast.policy,
    local.services,
    local.test_networks,
  )
  policy_json = jsonencode(local.policy)
}

# --- 1. etcd: one member per region ---

module "etcd" {
  source = "../../modules/meridian-etcd"

  members = [for r, s in local.sites : {
    name       = "etcd-${r}"
    aws_region = s.aws_region
    subnet_id  = var.networks[s.aws_region].subnet_ids[0]
  }]
  etcd_sha256 = var.etcd_sha256
  # The DNS servers' Elastic IPs, plus what the operator lists.
  client_cidrs = concat(
    var.etcd_client_cidrs,
    [for a in values(module.dns_eu_west.addresses) : "${a}/32"],
    [for a in values(module.dns_us_east.addresses) : "${a}/32"],
    [for a in values(module.dns_ap_southeast.addresses) : "${a}/32"],
  )
  tags = var.tags
}

# --- 2. DNS: one authoritative server per region ---

module "dns_eu_west" {
  source    = "../../modules/meridian-dns"
  providers = { aws = aws.eu_west_1 }

  name                   = "eu-west"
  nameservers            = ["ns1.${var.zone}"]
  vpc_id                 = var.networks["eu-west-1"].vpc_id
  subnet_ids             = var.networks["eu-west-1"].subnet_ids
  admin_cidrs            = var.admin_cidrs
  geoip_account_id       = var.geoip_account_id
  geoip_license_key      = var.geoip_license_key
  meridian_binary_url    = var.meridian_binary_url
  meridian_binary_sha256 = var.meridian_binary_sha256
  etcd_endpoints         = module.etcd.client_endpoints
  etcd_ca_pem            = module.etcd.ca_cert_pem
  etcd_client_cert_pem   = local.etcd_dns.cert_pem
  etcd_client_key_pem    = local.etcd_dns.private_key_pem
  tags                   = var.tags
}

module "dns_us_east" {
  source    = "../../modules/meridian-dns"
  providers = { aws = aws.us_east_1 }

  name                   = "us-east"
  nameservers            = ["ns2.${var.zone}"]
  vpc_id                 = var.networks["us-east-1"].vpc_id
  subnet_ids             = var.networks["us-east-1"].subnet_ids
  admin_cidrs            = var.admin_cidrs
  geoip_account_id       = var.geoip_account_id
  geoip_license_key      = var.geoip_license_key
  meridian_binary_url    = var.meridian_binary_url
  meridian_binary_sha256 = var.meridian_binary_sha256
  etcd_endpoints         = module.etcd.client_endpoints
  etcd_ca_pem            = module.etcd.ca_cert_pem
  etcd_client_cert_pem   = local.etcd_dns.cert_pem
  etcd_client_key_pem    = local.etcd_dns.private_key_pem
  tags                   = var.tags
}

module "dns_ap_southeast" {
  source    = "../../modules/meridian-dns"
  providers = { aws = aws.ap_southeast_1 }

  name                   = "ap-southeast"
  nameservers            = ["ns3.${var.zone}"]
  vpc_id                 = var.networks["ap-southeast-1"].vpc_id
  subnet_ids             = var.networks["ap-southeast-1"].subnet_ids
  admin_cidrs            = var.admin_cidrs
  geoip_account_id       = var.geoip_account_id
  geoip_license_key      = var.geoip_license_key
  meridian_binary_url    = var.meridian_binary_url
  meridian_binary_sha256 = var.meridian_binary_sha256
  etcd_endpoints         = module.etcd.client_endpoints
  etcd_ca_pem            = module.etcd.ca_cert_pem
  etcd_client_cert_pem   = local.etcd_dns.cert_pem
  etcd_client_key_pem    = local.etcd_dns.private_key_pem
  tags                   = var.tags
}

# --- 3. Regions: proxies behind a load balancer with static addresses ---

module "region_eu_west" {
  source    = "../../modules/meridian-region"
  providers = { aws = aws.eu_west_1 }

  region                 = "eu-west"
  location               = local.sites["eu-west"].location
  country                = local.sites["eu-west"].country
  pools                  = local.pools["eu-west"]
  vpc_id                 = var.networks["eu-west-1"].vpc_id
  subnet_ids             = var.networks["eu-west-1"].subnet_ids
  instance_count         = max(2, length(var.networks["eu-west-1"].subnet_ids))
  admin_cidrs            = var.admin_cidrs
  meridian_binary_url    = var.meridian_binary_url
  meridian_binary_sha256 = var.meridian_binary_sha256
  etcd_endpoints         = module.etcd.client_endpoints
  etcd_ca_pem            = module.etcd.ca_cert_pem
  etcd_client_cert_pem   = local.etcd_proxy.cert_pem
  etcd_client_key_pem    = local.etcd_proxy.private_key_pem
  tags                   = var.tags
}

module "region_us_east" {
  source    = "../../modules/meridian-region"
  providers = { aws = aws.us_east_1 }

  region                 = "us-east"
  location               = local.sites["us-east"].location
  country                = local.sites["us-east"].country
  pools                  = local.pools["us-east"]
  vpc_id                 = var.networks["us-east-1"].vpc_id
  subnet_ids             = var.networks["us-east-1"].subnet_ids
  instance_count         = max(2, length(var.networks["us-east-1"].subnet_ids))
  admin_cidrs            = var.admin_cidrs
  meridian_binary_url    = var.meridian_binary_url
  meridian_binary_sha256 = var.meridian_binary_sha256
  etcd_endpoints         = module.etcd.client_endpoints
  etcd_ca_pem            = module.etcd.ca_cert_pem
  etcd_client_cert_pem   = local.etcd_proxy.cert_pem
  etcd_client_key_pem    = local.etcd_proxy.private_key_pem
  tags                   = var.tags
}

module "region_ap_southeast" {
  source    = "../../modules/meridian-region"
  providers = { aws = aws.ap_southeast_1 }

  region                 = "ap-southeast"
  location               = local.sites["ap-southeast"].location
  country                = local.sites["ap-southeast"].country
  pools                  = local.pools["ap-southeast"]
  vpc_id                 = var.networks["ap-southeast-1"].vpc_id
  subnet_ids             = var.networks["ap-southeast-1"].subnet_ids
  instance_count         = max(2, length(var.networks["ap-southeast-1"].subnet_ids))
  admin_cidrs            = var.admin_cidrs
  meridian_binary_url    = var.meridian_binary_url
  meridian_binary_sha256 = var.meridian_binary_sha256
  etcd_endpoints         = module.etcd.client_endpoints
  etcd_ca_pem            = module.etcd.ca_cert_pem
  etcd_client_cert_pem   = local.etcd_proxy.cert_pem
  etcd_client_key_pem    = local.etcd_proxy.private_key_pem
  tags                   = var.tags
}

# --- 4. Delegation: NS and glue in the parent zone, and zones/<zone> ---

module "delegation" {
  source    = "../../modules/meridian-delegation"
  providers = { aws = aws.us_east_1 }

  zone           = var.zone
  parent_zone_id = var.parent_zone_id
  nameservers    = local.nameservers
  soa            = { rname = "hostmaster@${var.zone}" }
}

# --- 5. Optional: write the whole policy to etcd in one transaction ---

# One file rather than each module's apply_policy: a pool that spills over
# to another region is valid only once that region exists in etcd.
resource "terraform_data" "apply_policy" {
  count            = var.apply_policy ? 1 : 0
  triggers_replace = local.policy_json

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      f=$(mktemp)
      trap 'rm -f "$f"' EXIT
      printf '%s\n' "$POLICY_FILE_JSON" >"$f"
      meridian policy apply "$f"
    EOT
    environment = { POLICY_FILE_JSON = local.policy_json }
  }
}
