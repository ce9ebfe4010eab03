import { randomUUID } from "node:crypto";
import { Arg, Authorized, Ctx, Field, ID, Int, Mutation, ObjectType, Query, Resolver } from "type-graphql";
import type { NotesContext } from "./context";

@ObjectType({ description: "A note: this service's own data, one list per user of the auth API." })
export class Note {
  @Field(() => ID)
  id!: string;

  @Field()
  text!: string;
}

/** The service's own store; in memory, as befits an example. */
export class Notes {
  private readonly byUser = new Map<string, Note[]>();

  of(userId: string): Note[] {
    return this.byUser.get(userId) ?? [];
  }

  add(userId: string, text: string): Note {
    const note = Object.assign(new Note(), { id: randomUUID(), text: text.slice(0, 1000) });
    this.byUser.set(userId, [...this.of(userId), note]);
    return note;
  }

  count(): number {
    return [...this.byUser.values()].reduce((sum, notes) => sum + notes.length, 0);
  }
}

@Resolver(() => Note)
export class NoteResolver {
  @Authorized()
  @Query(() => [Note], { description: "The caller's notes." })
  myNotes(@Ctx() { identity, notes }: NotesContext): Note[] {
    return notes.of(identity!.userId);
  }

  @Authorized()
  @Mutation(() => Note)
  addNote(@Ctx() { identity, notes }: NotesContext, @Arg("text") text: string): Note {
    return notes.add(identity!.userId, text);
  }

  @Authorized("ADMIN")
  @Query(() => Int, { description: "How many notes all users hold; ADMIN only." })
  noteCount(@Ctx() { notes }: NotesContext): number {
    return notes.count();
  }
}
