CREATE INDEX "activities_received_brin" ON "activities" USING brin ("received_at");--> statement-breakpoint
CREATE INDEX "knocks_received_brin" ON "knocks" USING brin ("received_at");--> statement-breakpoint
CREATE INDEX "locations_received_brin" ON "locations" USING brin ("received_at");