// A correct app on the generated typed API for `checks.riaps`. The compile-fail suite
// (`build/tests/compile_fail.rs`) builds it as it is, then once per mistake with one snippet
// replaced, and checks the compiler's message.

mod model {
    include!(concat!(env!("OUT_DIR"), "/checks.rs"));
}

mod messages {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Reading {
        pub value: f64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Query {
        pub seq: u64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Value {
        pub value: f64,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Ask {
        pub question: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Answer {
        pub answer: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Ballot {
        pub yes: bool,
    }
}

mod components {
    use cohort_runtime::typed::{Context, GroupHandle};
    use cohort_runtime::{HandlerError, HandlerResult, Received, Request, Response, Tick};

    use crate::messages::{Answer, Ask, Ballot, Query, Reading, Value};
    use crate::model::{asker, groups, logger, member, oracle, sensor};

    pub struct Sensor {
        rate: f64,
        last: f64,
    }

    impl sensor::Component for Sensor {
        fn new(params: sensor::Params, _ctx: &mut Context<sensor::Ports>) -> Result<Self, HandlerError> {
            Ok(Sensor { rate: params.rate, last: 0.0 })
        }

        fn on_clock(&mut self, ctx: &mut Context<sensor::Ports>, _tick: Tick) -> HandlerResult {
            self.last += self.rate;
            ctx.ports.reading.publish(&Reading { value: self.last })?;
            Ok(())
        }

        fn on_request(&mut self, _ctx: &mut Context<sensor::Ports>, _query: Received<Query>) -> Result<Value, HandlerError> {
            Ok(Value { value: self.last })
        }
    }

    pub struct Logger;

    impl logger::Component for Logger {
        fn new(_params: logger::Params, _ctx: &mut Context<logger::Ports>) -> Result<Self, HandlerError> {
            Ok(Logger)
        }

        fn on_reading(&mut self, ctx: &mut Context<logger::Ports>, reading: Received<Reading>) -> HandlerResult {
            slog::info!(ctx.log(), "reading"; "value" => reading.value.value);
            Ok(())
        }
    }

    pub struct Asker;

    impl asker::Component for Asker {
        fn new(_params: asker::Params, _ctx: &mut Context<asker::Ports>) -> Result<Self, HandlerError> {
            Ok(Asker)
        }

        fn on_tick(&mut self, ctx: &mut Context<asker::Ports>, _tick: Tick) -> HandlerResult {
            ctx.ports.query.request(&Query { seq: 1 })?;
            ctx.ports.ask.query(&Ask { question: "?".into() })?;
            Ok(())
        }

        fn on_query(&mut self, _ctx: &mut Context<asker::Ports>, _response: Response<Value>) -> HandlerResult {
            Ok(())
        }

        fn on_ask(&mut self, _ctx: &mut Context<asker::Ports>, _response: Response<Answer>) -> HandlerResult {
            Ok(())
        }
    }

    pub struct Oracle;

    impl oracle::Component for Oracle {
        fn new(_params: oracle::Params, _ctx: &mut Context<oracle::Ports>) -> Result<Self, HandlerError> {
            Ok(Oracle)
        }

        fn on_ask(&mut self, ctx: &mut Context<oracle::Ports>, ask: Request<Ask>) -> HandlerResult {
            ctx.ports.ask.answer(&ask.token, &Answer { answer: ask.message.value.question })?;
            Ok(())
        }
    }

    pub struct Member {
        council: Option<GroupHandle<groups::Council>>,
    }

    impl member::Component for Member {
        fn new(_params: member::Params, _ctx: &mut Context<member::Ports>) -> Result<Self, HandlerError> {
            Ok(Member { council: None })
        }

        fn on_tick(&mut self, ctx: &mut Context<member::Ports>, _tick: Tick) -> HandlerResult {
            match &self.council {
                None => self.council = Some(ctx.join(groups::Council, "north")?),
                Some(council) => ctx.group_of(council)?.send(&Ballot { yes: true })?,
            }
            Ok(())
        }
    }
}

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(model::app_model(), model::components())
}
