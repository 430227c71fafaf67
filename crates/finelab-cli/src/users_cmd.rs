//! `finelab user`: the people who may sign in to a shared `finelab serve` of a project.

use anyhow::Result;
use clap::Subcommand;
use finelab_app::users::{self, NewPassword};
use finelab_store::Role;
use std::path::PathBuf;

/// What `finelab user` does.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user with a role; prints the password made for them (shown only this once).
    Add {
        /// The project folder.
        dir: PathBuf,
        /// The name they sign in with (and label under).
        name: String,
        /// admin (everything), reviewer (also adjudicates, reads agreement and results) or
        /// annotator (labels what they are served).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the users and their roles.
    List {
        /// The project folder.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user: they can no longer sign in, their sessions end, their labels stay.
    Remove {
        /// The project folder.
        dir: PathBuf,
        /// Who.
        name: String,
    },
    /// Give a user a new password (printed once); their sessions end.
    Reset {
        /// The project folder.
        dir: PathBuf,
        /// Who.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e: finelab_store::Error| e.to_string())
}

/// Runs one `finelab user` command.
pub fn run(command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { dir, name, role, json } => print_password(&users::add(&dir, &name, role)?, json, "added"),
        UserCommand::Reset { dir, name, json } => print_password(&users::reset(&dir, &name)?, json, "reset"),
        UserCommand::List { dir, json } => {
            let list = users::list(&dir)?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("no users: anyone with the server's token works as the one admin (add people with `finelab user add`)");
            } else {
                for u in list {
                    println!("{}\t{}", u.name, u.role.as_str());
                }
            }
            Ok(())
        }
        UserCommand::Remove { dir, name } => {
            users::remove(&dir, &name)?;
            println!("removed {name}: they can no longer sign in; their labels stay in the project");
            Ok(())
        }
    }
}

fn print_password(made: &NewPassword, json: bool, what: &str) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(made)?);
    } else {
        println!("{what} {} ({})", made.user.name, made.user.role.as_str());
        println!("password: {}", made.password);
        println!("(shown only now; they sign in at the address of `finelab serve`, page /signin)");
    }
    Ok(())
}
