// `npm run migrate`: apply the committed migrations to DATABASE_URL (or the embedded data folder).
import { loadConfig } from "../config";
import { databaseTarget } from "../server";
import { migrateDatabase, openDatabase } from "./client";

const config = loadConfig();
const target = databaseTarget(config);
const database = await openDatabase(target);
await migrateDatabase(target, database);
await database.close();
console.log(`migrations applied (${database.kind})`);
