import {
  doublePrecision, index, jsonb, pgTable, real, smallint, text, timestamp, uuid,
} from "drizzle-orm/pg-core";

// Every table: the client's event id is the primary key, so a replayed event is a no-op (ON CONFLICT DO NOTHING).
const common = {
  id: uuid("id").primaryKey(),
  teamId: text("team_id").notNull(),
  userId: text("user_id").notNull(),
  at: timestamp("at", { withTimezone: true, mode: "date" }).notNull(),
  receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull(),
};

export const locations = pgTable("locations", {
  ...common,
  lat: doublePrecision("lat").notNull(),
  lng: doublePrecision("lng").notNull(),
  accuracy: real("accuracy"),
  speed: real("speed"),
  heading: real("heading"),
  altitude: real("altitude"),
  battery: real("battery"),
}, (t) => [
  index("locations_team_user_at").on(t.teamId, t.userId, t.at),
  // BRIN: a few pages for the whole table (rows arrive in receive order); retention deletes by it.
  index("locations_received_brin").using("brin", t.receivedAt),
]);

export const knocks = pgTable("knocks", {
  ...common,
  lat: doublePrecision("lat").notNull(),
  lng: doublePrecision("lng").notNull(),
  outcome: text("outcome").notNull(),
  address: text("address"),
  notes: text("notes"),
}, (t) => [
  index("knocks_team_user_at").on(t.teamId, t.userId, t.at),
  // BRIN: a few pages for the whole table (rows arrive in receive order); retention deletes by it.
  index("knocks_received_brin").using("brin", t.receivedAt),
]);

export const activities = pgTable("activities", {
  ...common,
  kind: text("kind").notNull(),
  description: text("description"),
  contactId: text("contact_id"),
  meta: jsonb("meta"),
}, (t) => [
  index("activities_team_user_at").on(t.teamId, t.userId, t.at),
  // BRIN: a few pages for the whole table (rows arrive in receive order); retention deletes by it.
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
  index("leads_team_user_at").on(t.teamId, t.userId, t.at),
  index("leads_team_received").on(t.teamId, t.receivedAt.desc()),
]);

export const tables = { location: locations, knock: knocks, activity: activities, lead: leads } as const;
