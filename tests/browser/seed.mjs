// Seeds a running auth-core through its public webhook endpoint, signed as Svix signs Clerk's
// deliveries: two users (Ada Lovelace, and one whose first name is markup, to prove escaping), the
// organization "Analytical Engines" and Ada's org:admin membership. Payloads have the shape of the
// examples in Clerk's webhook spec (tests/fixtures/clerk/webhooks-2025-04-15.yml).
//
// usage: CLERK_WEBHOOK_SECRET=whsec_… node seed.mjs http://127.0.0.1:PORT
import crypto from "node:crypto";

const base = process.argv[2];
const secret = process.env.CLERK_WEBHOOK_SECRET ?? "";
if (!base || !secret.startsWith("whsec_")) {
  console.error("usage: CLERK_WEBHOOK_SECRET=whsec_… node seed.mjs <base-url>");
  process.exit(2);
}
const key = Buffer.from(secret.slice("whsec_".length), "base64");

export const ADA = "user_2browserAdaLovelace0000";
export const MARKUP = "user_2browserScriptUser00000";
export const ORG = "org_2browserAnalyticalEngines";

const nowMs = Date.now();
const instance = "ins_2browserTestInstance00000";
const attributes = {
  http_request: {
    client_ip: "192.168.1.100",
    user_agent:
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
  },
};

function envelope(type, data) {
  return {
    event_attributes: attributes,
    object: "event",
    type,
    instance_id: instance,
    timestamp: Math.floor(nowMs / 1000),
    data,
  };
}

function user(id, firstName, lastName, email) {
  const emailId = `idn_${id.slice("user_".length)}`;
  return {
    object: "user",
    id,
    external_id: null,
    primary_email_address_id: emailId,
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    username: null,
    first_name: firstName,
    last_name: lastName,
    profile_image_url: "https://img.clerk.com/xxxxxx",
    image_url: "https://img.clerk.com/xxxxxx",
    has_image: true,
    public_metadata: {},
    private_metadata: null,
    unsafe_metadata: {},
    email_addresses: [
      {
        id: emailId,
        object: "email_address",
        email_address: email,
        reserved: false,
        verification: { status: "verified", strategy: "email_code", attempts: 1, expire_at: null },
        linked_to: [],
        matches_sso_connection: false,
        created_at: nowMs,
        updated_at: nowMs,
      },
    ],
    phone_numbers: [],
    web3_wallets: [],
    passkeys: [],
    password_enabled: true,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    mfa_enabled_at: null,
    mfa_disabled_at: null,
    external_accounts: [],
    saml_accounts: [],
    enterprise_accounts: [],
    last_sign_in_at: nowMs,
    banned: false,
    locked: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: null,
    updated_at: nowMs,
    created_at: nowMs,
    delete_self_enabled: true,
    create_organization_enabled: true,
    create_organizations_limit: null,
    last_active_at: nowMs,
    legal_accepted_at: nowMs,
  };
}

const organization = {
  object: "organization",
  id: ORG,
  name: "Analytical Engines",
  slug: "analytical-engines",
  image_url: "https://img.clerk.com/xxxxxx",
  has_image: true,
  members_count: 1,
  missing_member_with_elevated_permissions: false,
  pending_invitations_count: 0,
  max_allowed_memberships: 5,
  admin_delete_enabled: true,
  public_metadata: {},
  private_metadata: {},
  created_by: ADA,
  created_at: nowMs,
  updated_at: nowMs,
};

const membership = {
  object: "organization_membership",
  id: "orgmem_2browserAdaAnalytical00",
  role: "org:admin",
  role_name: "Admin",
  permissions: ["org:sys_memberships:manage", "org:sys_memberships:read"],
  public_metadata: {},
  private_metadata: {},
  organization,
  public_user_data: {
    user_id: ADA,
    first_name: "Ada",
    last_name: "Lovelace",
    profile_image_url: "https://img.clerk.com/yyyyy",
    image_url: "https://img.clerk.com/yyyyy",
    has_image: true,
    identifier: "ada@example.com",
  },
  created_at: nowMs,
  updated_at: nowMs,
};

const events = [
  envelope("user.created", user(ADA, "Ada", "Lovelace", "ada@example.com")),
  envelope("user.created", user(MARKUP, "<script>alert(1)</script>", "Markup", "markup@example.com")),
  envelope("organization.created", organization),
  envelope("organizationMembership.created", membership),
];

let n = 0;
for (const event of events) {
  n += 1;
  const body = JSON.stringify(event);
  const id = `msg_browser${crypto.randomBytes(8).toString("hex")}${n}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = crypto.createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  const res = await fetch(`${base}/api/auth/webhooks/clerk`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "svix-id": id,
      "svix-timestamp": timestamp,
      "svix-signature": `v1,${signature}`,
    },
    body,
  });
  const text = await res.text();
  if (res.status < 200 || res.status > 299) {
    console.error(`seeding ${event.type} (${event.data.id}) failed: HTTP ${res.status} ${text}`);
    process.exit(1);
  }
  console.log(`seeded ${event.type} ${event.data.id}: HTTP ${res.status} ${text}`);
}
