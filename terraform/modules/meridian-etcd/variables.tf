variable "name" {
  description = "Name of the cluster: the etcd initial-cluster-token, and a prefix for resource names and SSM parameter paths."
  type        = string
  default     = "meridian-etcd"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", var.name))
    error_message = "name must be 1 to 32 lower-case letters, digits and inner hyphens."
  }
}

variable "members" {
  description = "The members, 3 or 5, each in an AWS region and a public subnet there. Spread them so that losing one region keeps a majority: 3 members in 3 regions, or 5 as 2+2+1."
  type = list(object({
    name       = string
    aws_region = string
    subnet_id  = string
  }))

  validation {
    # An even count adds a member without adding failure tolerance; more
    # than 5 slows every write (a majority must confirm it across regions).
    condition     = contains([3, 5], length(var.members))
    error_message = "members must hold 3 or 5 members (an odd number: etcd needs a majority)."
  }

  validation {
    condition     = length(distinct([for m in var.members : m.name])) == length(var.members)
    error_message = "member names must be unique."
  }

  validation {
    condition     = alltrue([for m in var.members : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", m.name))])
    error_message = "member names must be lower-case letters, digits and inner hyphens."
  }

  validation {
    condition     = alltrue([for m in var.members : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", m.aws_region)) && startswith(m.subnet_id, "subnet-")])
    error_message = "each member needs an AWS region (\"eu-west-1\") and a subnet ID (subnet-...)."
  }
}

variable "client_cidrs" {
  description = "CIDRs allowed to reach the client port 2379: the public egress addresses of every meridian dns, proxy and probe and of the operators. Clients must also present a certificate signed by the client CA."
  type        = list(string)

  validation {
    condition     = length(var.client_cidrs) > 0 && alltrue([for c in var.client_cidrs : can(cidrhost(c, 0))])
    error_message = "client_cidrs must hold at least one CIDR."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the members. Meridian's keyspace is small; what matters is a steady disk and network."
  type        = string
  default     = "t3.medium"
}

variable "architecture" {
  description = "CPU architecture of the instances and of the etcd release, amd64 or arm64."
  type        = string
  default     = "amd64"

  validation {
    condition     = contains(["amd64", "arm64"], var.architecture)
    error_message = "architecture must be amd64 or arm64."
  }
}

variable "ami_ids" {
  description = "AMI per AWS region (\"eu-west-1\" => \"ami-...\"); regions not listed use the newest official Debian 12 image when a member is created. Needs apt and the awscli package."
  type        = map(string)
  default     = {}
}

variable "volume_size_gb" {
  description = "Size of each member's root volume (gp3, encrypted), which holds the etcd data directory."
  type        = number
  default     = 20

  validation {
    condition     = var.volume_size_gb >= 8
    error_message = "volume_size_gb must be at least 8."
  }
}

variable "etcd_version" {
  description = "etcd release to install (without the leading v). Meridian's own tests run against the same version as its etcd client library."
  type        = string
  default     = "3.7.3"

  validation {
    condition     = can(regex("^3\\.[5-9]\\.[0-9]+$", var.etcd_version))
    error_message = "etcd_version must be 3.5.x or newer (users without passwords need 3.5)."
  }
}

variable "etcd_download_url" {
  description = "HTTPS URL of the etcd release archive, or null for the GitHub release of etcd_version and architecture."
  type        = string
  default     = null

  validation {
    condition     = var.etcd_download_url == null || can(regex("^https://[^\\s']+$", coalesce(var.etcd_download_url, "https://x")))
    error_message = "etcd_download_url must be an https:// URL."
  }
}

variable "etcd_sha256" {
  description = "SHA-256 of the etcd release archive (from the release's SHA256SUMS); the install refuses any other file."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.etcd_sha256))
    error_message = "etcd_sha256 must be 64 lower-case hex digits."
  }
}

variable "heartbeat_interval_ms" {
  description = "etcd heartbeat interval in milliseconds. etcd's tuning guide: about the largest round-trip time between members; 250 suits members on three continents."
  type        = number
  default     = 250

  validation {
    condition     = var.heartbeat_interval_ms >= 50 && var.heartbeat_interval_ms <= 5000
    error_message = "heartbeat_interval_ms must be within 50..5000."
  }
}

variable "election_timeout_ms" {
  description = "etcd election timeout in milliseconds: at least 5 and typically 10 heartbeat intervals."
  type        = number
  default     = 2500

  validation {
    condition     = var.election_timeout_ms >= 5 * var.heartbeat_interval_ms && var.election_timeout_ms <= 50000
    error_message = "election_timeout_ms must be at least 5 heartbeat intervals and at most 50000."
  }
}

variable "client_ca_cert_pem" {
  description = "PEM of your own CA for the client port (server certificates of the members and all client certificates), or null to create one here. The peer port always uses a separate CA made here."
  type        = string
  default     = null
}

variable "client_ca_private_key_pem" {
  description = "PEM key of client_ca_cert_pem. Required with it; it ends up in the Terraform state, as every key this module makes does."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = (var.client_ca_cert_pem == null) == (var.client_ca_private_key_pem == null)
    error_message = "Set client_ca_private_key_pem exactly when client_ca_cert_pem is set."
  }
}

variable "clients" {
  description = "Client certificates to issue: common name (= etcd user once auth is on) => role, one of root, admin (read-write /meridian/), dns (read), proxy and probe (read, and write <prefix>status/). A \"root\" client with role root is required to enable auth."
  type        = map(string)
  default = {
    "root"           = "root"
    "meridian-admin" = "admin"
    "meridian-dns"   = "dns"
    "meridian-proxy" = "proxy"
    "meridian-probe" = "probe"
  }

  validation {
    condition     = alltrue([for r in values(var.clients) : contains(["root", "admin", "dns", "proxy", "probe"], r)])
    error_message = "clients roles must be root, admin, dns, proxy or probe."
  }

  validation {
    condition     = lookup(var.clients, "root", "") == "root"
    error_message = "clients must map \"root\" to role root: etcd enables auth only with a root user."
  }

  validation {
    condition     = alltrue([for n in keys(var.clients) : can(regex("^[A-Za-z0-9._-]+$", n))])
    error_message = "clients names must be letters, digits, dots, underscores or hyphens."
  }
}

variable "etcd_prefix" {
  description = "Meridian's keyspace prefix (--etcd-prefix), for the role permissions in auth_setup_script."
  type        = string
  default     = "/meridian/"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]*/$", var.etcd_prefix))
    error_message = "etcd_prefix must start and end with a slash."
  }
}

variable "cert_validity_hours" {
  description = "Validity of member and client certificates. Nothing renews them on the instances: plan the rotation (see README.md) before certificates_expire."
  type        = number
  default     = 17520 # two years

  validation {
    condition     = var.cert_validity_hours >= 24
    error_message = "cert_validity_hours must be at least 24."
  }
}

variable "cert_early_renewal_hours" {
  description = "An apply this close to a certificate's expiry issues a new one. The proxies pick theirs up through an instance refresh; members and DNS servers need the manual steps in README.md."
  type        = number
  default     = 720 # 30 days

  validation {
    condition     = var.cert_early_renewal_hours >= 0 && var.cert_early_renewal_hours < var.cert_validity_hours
    error_message = "cert_early_renewal_hours must be at least 0 and less than cert_validity_hours."
  }
}

variable "ca_validity_hours" {
  description = "Validity of the CAs this module creates."
  type        = number
  default     = 87600 # ten years

  validation {
    condition     = var.ca_validity_hours >= var.cert_validity_hours
    error_message = "ca_validity_hours must be at least cert_validity_hours."
  }
}

variable "tags" {
  description = "Tags for every AWS resource."
  type        = map(string)
  default     = {}
}
