import { Field, ID, ObjectType } from "type-graphql";
import type { SessionRecord } from "../../store/store";

@ObjectType({ description: "One logged-in device: begun by login or register, kept alive by refresh." })
export class Session {
  @Field(() => ID)
  id!: string;

  @Field(() => String, {
    nullable: true,
    description: "The device name given at login or register, as reported by the client: not checked by the API. Control characters are replaced by U+FFFD.",
  })
  device!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { description: "The last refresh, or the login." })
  lastUsedAt!: Date;

  @Field(() => Date, { description: "When the session's refresh token expires unless it is refreshed first." })
  expiresAt!: Date;

  @Field(() => Boolean, { description: "True for the session whose access token made this request." })
  current!: boolean;

  static from(record: SessionRecord, currentSessionId: string): Session {
    return Object.assign(new Session(), {
      id: record.id,
      device: record.device,
      createdAt: new Date(record.createdAt),
      lastUsedAt: new Date(record.lastUsedAt),
      expiresAt: new Date(record.expiresAt),
      current: record.id === currentSessionId,
    });
  }
}
