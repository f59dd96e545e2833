import {
  doublePrecision, index, jsonb, pgTable, primaryKey, smallint, text, timestamp, uuid,
} from "drizzle-orm/pg-core";

// Every event table is keyed by (team_id, id): the client's event id makes a replayed event a no-op
// (ON CONFLICT DO NOTHING), and two teams can never collide on one id.
const common = {
  id: uuid("id").notNull(),
  teamId: text("team_id").notNull(),
  userId: text("user_id").notNull(),
  at: timestamp("at", { withTimezone: true, mode: "date" }).notNull(),
  receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull(),
};

// Measurements are double precision: float4 refuses values JSON happily carries (1e-50 underflows `real`).
export const locations = pgTable("locations", {
  ...common,
  lat: doublePrecision("lat").notNull(),
  lng: doublePrecision("lng").notNull(),
  accuracy: doublePrecision("accuracy"),
  speed: doublePrecision("speed"),
  heading: doublePrecision("heading"),
  altitude: doublePrecision("altitude"),
  battery: doublePrecision("battery"),
}, (t) => [
  primaryKey({ columns: [t.teamId, t.id], name: "locations_pkey" }),
  index("locations_team_user_at").on(t.teamId, t.userId, t.at),
  // BRIN: a few pages for the whole table (rows arrive in receive order); retention deletes by it.
  index("locations_received_brin").using("brin", t.receivedAt),
]);

export const knocks = pgTable("knocks", {
  ...common,
  // Null when the canvasser knocked by address alone (no fix yet, location blocked).
  lat: doublePrecision("lat"),
  lng: doublePrecision("lng"),
  accuracy: doublePrecision("accuracy"),
  positionSource: text("position_source"),
  outcome: text("outcome").notNull(),
  address: text("address"),
  notes: text("notes"),
}, (t) => [
  primaryKey({ columns: [t.teamId, t.id], name: "knocks_pkey" }),
  index("knocks_team_user_at").on(t.teamId, t.userId, t.at),
  index("knocks_received_brin").using("brin", t.receivedAt),
]);

export const activities = pgTable("activities", {
  ...common,
  kind: text("kind").notNull(),
  description: text("description"),
  contactId: text("contact_id"),
  meta: jsonb("meta"),
}, (t) => [
  primaryKey({ columns: [t.teamId, t.id], name: "activities_pkey" }),
  index("activities_team_user_at").on(t.teamId, t.userId, t.at),
  index("activities_received_brin").using("brin", t.receivedAt),
]);

export const leads = pgTable("leads", {
  ...common,
  name: text("name").notNull(),
  phone: text("phone"),
  email: text("email"),
  address: text("address"),
  lat: doublePrecision("lat"),
  lng: doublePrecision("lng"),
  notes: text("notes"),
  interest: text("interest"),
  dialerStatus: text("dialer_status").notNull().default("pending"),
  dialerAttempts: smallint("dialer_attempts").notNull().default(0),
  dialerDeliveredAt: timestamp("dialer_delivered_at", { withTimezone: true, mode: "date" }),
}, (t) => [
  primaryKey({ columns: [t.teamId, t.id], name: "leads_pkey" }),
  index("leads_team_user_at").on(t.teamId, t.userId, t.at),
  index("leads_team_received").on(t.teamId, t.receivedAt.desc()),
]);

/**
 * The flush's dead-letter table: events Postgres refused for their content (SQLSTATE class 22/23),
 * isolated by bisecting their batch. `body` is the event as JSON text (escaped, so even a NUL fits).
 */
export const rejectedEvents = pgTable("rejected_events", {
  teamId: text("team_id").notNull(),
  id: uuid("id").notNull(),
  kind: text("kind").notNull(),
  userId: text("user_id").notNull(),
  receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull(),
  rejectedAt: timestamp("rejected_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  sqlstate: text("sqlstate"),
  error: text("error").notNull(),
  body: text("body").notNull(),
}, (t) => [primaryKey({ columns: [t.teamId, t.id], name: "rejected_events_pkey" })]);

/**
 * Tracker apps registered to a team and a person (issue 15). The device id is its own credential
 * (stateless: it carries team, user and an HMAC), so the ingest path never reads this table; it serves the
 * admin's list. Revocation is enforced by the team's TeamHub; `revoked_at` mirrors it for the list.
 */
export const devices = pgTable("devices", {
  deviceId: text("device_id").primaryKey(),
  teamId: text("team_id").notNull(),
  userId: text("user_id").notNull(),
  label: text("label"),
  createdBy: text("created_by").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
}, (t) => [index("devices_team_created").on(t.teamId, t.createdAt)]);

export const tables = { location: locations, knock: knocks, activity: activities, lead: leads } as const;
